import type { ComponentProcess } from "@maikit/core/launcher"

/** What a client is sent next: the events in order, after `skippedChars` of older output it will never get. */
export interface Taken {
  readonly events: ReadonlyArray<ComponentProcess.ComponentEvent>
  readonly skippedChars: number
}

/** `text` cut to at most `limit` characters, not between the halves of a surrogate pair. */
const headOf = (text: string, limit: number): string => {
  if (text.length <= limit) return text
  const code = text.charCodeAt(limit - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit)
}

/**
 * One terminal client's events not yet written to its socket, bounded in characters of output: past the limit
 * (`limitChars()`, read on every push, since a client may ask for flow control after it connected), the oldest
 * output is dropped (and counted; the limit is kept to within a line) so that a client that reads more slowly than
 * the process prints gets the newest output, a screen that tells the truth now, instead of a backlog that grows
 * and an echo that arrives seconds late. Status events are never dropped. The full output stays in the history.
 */
export class OutputBacklog {
  private events: Array<ComponentProcess.ComponentEvent> = []
  private outputChars = 0
  private skippedChars = 0
  private readonly limitChars: () => number

  constructor(limitChars: () => number) {
    this.limitChars = limitChars
  }

  get isEmpty(): boolean {
    return this.events.length === 0
  }

  push(batch: ReadonlyArray<ComponentProcess.ComponentEvent>): void {
    for (const event of batch) {
      this.events.push(event)
      if (event._tag === "Output") this.outputChars += event.data.length
    }
    if (this.outputChars > this.limitChars()) this.trim()
  }

  /**
   * The oldest events, with at most `maxChars` characters of output (an output event that does not fit whole is
   * split), and how much output was dropped before them; they leave the backlog.
   */
  take(maxChars = Number.POSITIVE_INFINITY): Taken {
    const skippedChars = this.skippedChars
    this.skippedChars = 0
    if (this.outputChars <= maxChars) {
      const events = this.events
      this.events = []
      this.outputChars = 0
      return { events, skippedChars }
    }
    const events: Array<ComponentProcess.ComponentEvent> = []
    let room = maxChars
    let next = 0
    for (; next < this.events.length; next++) {
      const event = this.events[next] as ComponentProcess.ComponentEvent
      if (event._tag === "Status") {
        events.push(event)
        continue
      }
      if (event.data.length > room) {
        const head = headOf(event.data, room)
        if (head.length > 0) {
          events.push({ ...event, data: head })
          this.events[next] = { ...event, data: event.data.slice(head.length) }
          room -= head.length
        }
        break
      }
      events.push(event)
      room -= event.data.length
    }
    this.events = this.events.slice(next)
    this.outputChars -= maxChars - room
    return { events, skippedChars }
  }

  /**
   * Drops the oldest output until the rest fits: whole events, then the head of the oldest one kept, up to the
   * start of the line the cut falls in where that is near (so the screen goes on from the start of a line, and a
   * line may be kept beyond the limit), else up to a character boundary. What is kept is the newest output,
   * never an older event instead of the tail of a newer one: a window of a few kilobytes must not lose the last
   * lines of a large event to an echo that follows it.
   */
  private trim(): void {
    let excess = this.outputChars - this.limitChars()
    const kept: Array<ComponentProcess.ComponentEvent> = []
    for (const event of this.events) {
      if (excess <= 0 || event._tag === "Status") {
        kept.push(event)
        continue
      }
      const whole = event.data.length <= excess
      const cut = whole ? event.data.length : cutPoint(event.data, excess)
      this.outputChars -= cut
      this.skippedChars += cut
      // After a cut inside an event the rest fits (give or take the line kept whole).
      excess = whole ? excess - cut : 0
      if (!whole) kept.push({ ...event, data: event.data.slice(cut) })
    }
    this.events = kept
  }
}

/**
 * Where to cut about `excess` characters off the front of `text`: at the start of the line the cut falls in,
 * when that is near (keeping a little more), else at a character boundary.
 */
const cutPoint = (text: string, excess: number): number => {
  const lineStart = text.lastIndexOf("\n", excess - 1) + 1
  if (lineStart > 0 && excess - lineStart < 1024) return lineStart
  const code = text.charCodeAt(excess - 1)
  return code >= 0xd800 && code <= 0xdbff ? excess + 1 : excess
}
