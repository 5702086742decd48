import type { ComponentProcess } from "@maikit/core/launcher"

/** What a client is sent next: the events in order, after `skippedChars` of older output it will never get. */
export interface Taken {
  readonly events: ReadonlyArray<ComponentProcess.ComponentEvent>
  readonly skippedChars: number
}

/**
 * One terminal client's events not yet written to its socket, bounded in characters of output: past
 * `limitChars`, the oldest output is dropped (and counted) so that a client that reads more slowly than the
 * process prints gets the newest output, a screen that tells the truth now, instead of a backlog that grows and
 * an echo that arrives seconds late. Status events are never dropped. The full output stays in the history.
 */
export class OutputBacklog {
  private events: Array<ComponentProcess.ComponentEvent> = []
  private outputChars = 0
  private skippedChars = 0
  private readonly limitChars: number

  constructor(limitChars: number) {
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
    if (this.outputChars > this.limitChars) this.trim()
  }

  /** Everything queued, and how much output was dropped before it; the backlog is empty afterwards. */
  take(): Taken {
    const taken = { events: this.events, skippedChars: this.skippedChars }
    this.events = []
    this.outputChars = 0
    this.skippedChars = 0
    return taken
  }

  /** Drops the oldest output until the rest fits, keeping at least the newest output event. */
  private trim(): void {
    const statuses: Array<ComponentProcess.ComponentEvent> = []
    const newestOutput = this.events.findLastIndex((event) => event._tag === "Output")
    let first = 0
    while (first < newestOutput && this.outputChars > this.limitChars) {
      const event = this.events[first++]
      if (event === undefined) break
      if (event._tag === "Status") {
        statuses.push(event)
        continue
      }
      this.outputChars -= event.data.length
      this.skippedChars += event.data.length
    }
    this.events = [...statuses, ...this.events.slice(first)]
  }
}
