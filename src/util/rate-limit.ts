/**
 * Token buckets per key (a peer ID, an entity), with a bounded number of keys:
 * the least recently used bucket is forgotten first, so a flood of distinct keys
 * costs at most `maxKeys` small entries (and a forgotten key starts full again,
 * which a flood cannot exploit beyond `burst` per key it makes us forget).
 */
export interface RateLimitOptions {
  /** Tokens a key may spend at once. */
  burst: number
  /** Tokens regained per hour. */
  perHour: number
  maxKeys: number
  now?: () => number
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  constructor (private readonly o: RateLimitOptions) {}

  /** Spend one token of `key`; false when it has none left. */
  take (key: string): boolean {
    const now = (this.o.now ?? Date.now)()
    const b = this.buckets.get(key) ?? { tokens: this.o.burst, at: now }
    this.buckets.delete(key) // re-inserted below: Map order is the LRU order
    b.tokens = Math.min(this.o.burst, b.tokens + (now - b.at) * this.o.perHour / 3_600_000)
    b.at = now
    const ok = b.tokens >= 1
    if (ok) b.tokens -= 1
    this.buckets.set(key, b)
    if (this.buckets.size > this.o.maxKeys) this.buckets.delete(this.buckets.keys().next().value!)
    return ok
  }

  get size (): number { return this.buckets.size }
}
