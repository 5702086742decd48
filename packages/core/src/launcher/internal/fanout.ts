import { Cause, Queue } from "effect"

interface Subscriber<A, E> {
  readonly queue: Queue.Queue<A, E | Cause.Done>
  readonly overflow: E
}

/**
 * Delivers each item to every subscriber's bounded queue in one synchronous loop: the producer never waits,
 * the item object is shared, not copied, and a subscriber whose queue is full is removed on the spot and its
 * queue failed with its own overflow error (delivered after the items it already holds).
 */
export class Fanout<A, E> {
  private subscribers: Array<Subscriber<A, E>> = []
  private ended = false

  add(queue: Queue.Queue<A, E | Cause.Done>, overflow: E): void {
    if (this.ended) Queue.endUnsafe(queue)
    else this.subscribers = [...this.subscribers, { queue, overflow }]
  }

  remove(queue: Queue.Queue<A, E | Cause.Done>): void {
    this.subscribers = this.subscribers.filter((subscriber) => subscriber.queue !== queue)
  }

  /** Lets the producer skip building an item nobody would receive. */
  get isEmpty(): boolean {
    return this.subscribers.length === 0
  }

  publish(item: A): void {
    const subscribers = this.subscribers
    let full: Array<Subscriber<A, E>> | undefined
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i]
      if (subscriber !== undefined && !Queue.offerUnsafe(subscriber.queue, item)) (full ??= []).push(subscriber)
    }
    if (full === undefined) return
    for (const subscriber of full) {
      this.remove(subscriber.queue)
      Queue.failCauseUnsafe(subscriber.queue, Cause.fail(subscriber.overflow))
    }
  }

  /** Completes every subscriber's stream; later subscribers get an already-ended stream. */
  end(): void {
    this.ended = true
    const subscribers = this.subscribers
    this.subscribers = []
    for (const subscriber of subscribers) Queue.endUnsafe(subscriber.queue)
  }
}
