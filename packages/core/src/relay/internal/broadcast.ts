import { type Cause, Effect, Queue, type Scope } from "effect"

/**
 * Hands each item to every subscriber in one synchronous loop: to each queue subscriber's own sliding queue
 * (the publisher never waits, and a subscriber that falls more than its buffer behind loses only its own
 * oldest items), and to each listener by a plain call.
 */
export class Broadcast<A> {
  private readonly subscribers = new Map<Queue.Queue<A, Cause.Done>, ((item: A) => boolean) | undefined>()
  private readonly listeners = new Set<{ readonly call: (item: A) => void; readonly wants: ((item: A) => boolean) | undefined }>()
  private ended = false

  /** Returns what the listeners threw, if any did: one listener's failure never skips the others. */
  publish(item: A): Array<unknown> | undefined {
    for (const [queue, wants] of this.subscribers) {
      if (wants === undefined || wants(item)) Queue.offerUnsafe(queue, item)
    }
    let failures: Array<unknown> | undefined
    for (const listener of this.listeners) {
      if (listener.wants !== undefined && !listener.wants(item)) continue
      try {
        listener.call(item)
      } catch (error) {
        ;(failures ??= []).push(error)
      }
    }
    return failures
  }

  /**
   * A queue receiving every item (or those `wants` accepts) from now on, removed when the scope closes.
   * Filtering here spares a subscriber a wake-up for each item it would skip.
   */
  subscribe(buffer: number, wants?: (item: A) => boolean): Effect.Effect<Queue.Dequeue<A, Cause.Done>, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.tap(Queue.sliding<A, Cause.Done>(Math.max(1, buffer)), (queue) =>
        Effect.sync(() => {
          if (this.ended) Queue.endUnsafe(queue)
          else this.subscribers.set(queue, wants)
        })),
      (queue) =>
        Effect.sync(() => {
          this.subscribers.delete(queue)
          Queue.shutdownUnsafe(queue)
        })
    )
  }

  /**
   * Calls `listener` with every item (or those `wants` accepts) in the publisher's turn until the scope
   * closes: no queue and no fiber wake-up per item, for listeners whose work is small and never waits.
   */
  listen(call: (item: A) => void, wants?: (item: A) => boolean): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => {
        const listener = { call, wants }
        if (!this.ended) this.listeners.add(listener)
        return listener
      }),
      (listener) => Effect.sync(() => this.listeners.delete(listener))
    ).pipe(Effect.asVoid)
  }

  /** Completes every subscriber after the items it already holds; later subscribers get an ended queue. */
  end(): void {
    this.ended = true
    for (const queue of this.subscribers.keys()) Queue.endUnsafe(queue)
    this.subscribers.clear()
    this.listeners.clear()
  }
}
