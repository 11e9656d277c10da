/**
 * Hybrid logical clock packed into one safe integer: wallMillis * 1024 + counter.
 * 2^53 / 1024 ms reaches the year 2248, so clocks stay exact JS numbers and sort
 * as SQLite INTEGERs. A counter overflow (1024 events in one ms) borrows the next
 * millisecond, which HLC permits: the clock stays monotonic and close to real time.
 */
export type Clock = number

export const COUNTER_BITS = 10
const MUL = 1 << COUNTER_BITS

export const clockWall = (c: Clock): number => Math.floor(c / MUL)
export const clockCounter = (c: Clock): number => c % MUL
export const makeClock = (wallMs: number, counter = 0): Clock => wallMs * MUL + counter
export const isClock = (c: unknown): c is Clock => typeof c === 'number' && Number.isSafeInteger(c) && c > 0

export class HybridClock {
  private last: Clock
  constructor (private readonly now: () => number = Date.now, start: Clock = 0) {
    this.last = start
  }

  /** A new timestamp for a local event, strictly greater than all seen before. */
  tick (): Clock {
    const phys = makeClock(this.now())
    this.last = phys > this.last ? phys : this.last + 1
    return this.last
  }

  /** Merge a remote timestamp so later local events order after it. */
  observe (remote: Clock): void {
    if (remote > this.last) this.last = remote
  }

  peek (): Clock { return this.last }
}

export const clockToIso = (c: Clock): string => new Date(clockWall(c)).toISOString()
