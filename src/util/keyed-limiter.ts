/**
 * At most `max` tasks at a time per key; the rest wait their turn in order.
 * Pure: no timers, nothing held but the counts and the queues.
 */
export class KeyedLimiter {
  private readonly active = new Map<string, number>()
  private readonly waiting = new Map<string, Array<() => void>>()

  constructor (private readonly max: number) {}

  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(key)
    try { return await fn() } finally { this.release(key) }
  }

  /** Tasks running and waiting for `key`. */
  load (key: string): { active: number, waiting: number } {
    return { active: this.active.get(key) ?? 0, waiting: this.waiting.get(key)?.length ?? 0 }
  }

  private async acquire (key: string): Promise<void> {
    const n = this.active.get(key) ?? 0
    if (n < this.max) { this.active.set(key, n + 1); return }
    await new Promise<void>(resolve => {
      const q = this.waiting.get(key)
      if (q === undefined) this.waiting.set(key, [resolve]); else q.push(resolve)
    })
  }

  /** The slot passes to the next waiter, if any; else it is freed. */
  private release (key: string): void {
    const q = this.waiting.get(key)
    const next = q?.shift()
    if (next !== undefined) {
      if (q!.length === 0) this.waiting.delete(key)
      next()
      return
    }
    const n = (this.active.get(key) ?? 1) - 1
    if (n <= 0) this.active.delete(key); else this.active.set(key, n)
  }
}
