import { type Cause, Effect, Queue, type Scope } from "effect"

/**
 * Hands each item to every subscriber's own sliding queue in one synchronous loop: the publisher never
 * waits, and a subscriber that falls more than its buffer behind loses only its own oldest items.
 */
export class Broadcast<A> {
  private readonly subscribers = new Map<Queue.Queue<A, Cause.Done>, ((item: A) => boolean) | undefined>()
  private ended = false

  publish(item: A): void {
    for (const [queue, wants] of this.subscribers) {
      if (wants === undefined || wants(item)) Queue.offerUnsafe(queue, item)
    }
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

  /** Completes every subscriber after the items it already holds; later subscribers get an ended queue. */
  end(): void {
    this.ended = true
    for (const queue of this.subscribers.keys()) Queue.endUnsafe(queue)
    this.subscribers.clear()
  }
}
