/** Newest-last window of records bounded by the byte size the caller assigns to each one. */
export class RecordRing<A> {
  private items: Array<A> = []
  private sizes: Array<number> = []
  private head = 0
  private bytes = 0
  private readonly capacity: number
  private readonly onEvict: ((item: A) => void) | undefined

  constructor(capacity: number, onEvict?: (item: A) => void) {
    this.capacity = capacity
    this.onEvict = onEvict
  }

  /** The newest record is always kept, even when it alone exceeds the capacity. */
  push(item: A, size: number): void {
    this.items.push(item)
    this.sizes.push(size)
    this.bytes += size
    while (this.bytes > this.capacity && this.items.length - this.head > 1) {
      this.bytes -= this.sizes[this.head] ?? 0
      this.onEvict?.(this.items[this.head] as A)
      this.head++
    }
    // Compact lazily so eviction stays O(1) amortised instead of shifting the arrays on every push.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.sizes = this.sizes.slice(this.head)
      this.head = 0
    }
  }

  toArray(): Array<A> {
    return this.items.slice(this.head)
  }
}
