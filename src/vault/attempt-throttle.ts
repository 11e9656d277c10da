/**
 * Passphrase attempts, one at a time, with a growing pause after failures.
 *
 * Each attempt runs scrypt (N=2^17, r=8: 128 MiB and ~0.5 s): six concurrent
 * wrong unlocks took a daemon from 126 to 638 MiB, and guessing speed grew
 * with the number of callers. Here at most one attempt runs (memory stays at
 * one scrypt), and after `freeFailures` consecutive failures each further
 * attempt must wait `baseDelayMs × 2^(k-1)` (capped), as login systems do.
 * An attempt that arrives while another runs, or during the pause, is
 * refused at once with THROTTLED and the seconds to wait: refusing costs
 * nothing, where a queue of waiting attempts would itself grow with callers.
 * A success resets the count. The count is in memory: restarting the daemon
 * takes more than the API token.
 */
import { CairnError } from '../util/errors.js'

export interface ThrottleOptions {
  /** Failures allowed before any pause (default 2: a typo or two costs nothing). */
  freeFailures?: number
  /** Pause after the first counted failure, ms (default 1000); doubles after each. */
  baseDelayMs?: number
  /** Longest pause, ms (default 300,000). */
  maxDelayMs?: number
  now?: () => number
}

export class AttemptThrottle {
  private running = false
  private failures = 0
  private notBefore = 0
  private readonly free: number
  private readonly base: number
  private readonly max: number
  private readonly now: () => number
  /** Attempts refused without running, for metrics. */
  refused = 0

  constructor (private readonly what: string, o: ThrottleOptions = {}) {
    this.free = o.freeFailures ?? 2
    this.base = o.baseDelayMs ?? 1000
    this.max = o.maxDelayMs ?? 300_000
    this.now = o.now ?? Date.now
  }

  /** Consecutive failures so far. */
  get failureCount (): number { return this.failures }

  /**
   * Run one attempt. `isFailure` tells a wrong guess (counted) from any other
   * error (a damaged vault, a locked node: not counted).
   */
  async attempt<T> (fn: () => Promise<T>, isFailure: (e: unknown) => boolean): Promise<T> {
    const now = this.now()
    if (this.running) throw this.refuse(1000, `another ${this.what} attempt is running`)
    if (now < this.notBefore) throw this.refuse(this.notBefore - now, `${this.failures} wrong ${this.what} attempts in a row`)
    this.running = true
    try {
      const v = await fn()
      this.failures = 0
      this.notBefore = 0
      return v
    } catch (e) {
      if (isFailure(e)) {
        this.failures++
        const k = this.failures - this.free
        if (k > 0) this.notBefore = this.now() + Math.min(this.max, this.base * 2 ** Math.min(k - 1, 30))
      }
      throw e
    } finally {
      this.running = false
    }
  }

  private refuse (waitMs: number, why: string): CairnError {
    this.refused++
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000))
    return new CairnError('THROTTLED', `${why}; try again in ${retryAfterSeconds} s`, { retryAfterSeconds })
  }
}
