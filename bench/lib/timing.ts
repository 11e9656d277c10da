/**
 * Timing and statistics helpers. All clocks are process.hrtime.bigint()
 * (monotonic, ns); all durations returned are milliseconds as numbers.
 *
 *  measureRate / measureRateAsync  ops per second of one operation over a time window
 *  medianOf                         repeat a measurement, keep the median
 *  interleaved                      measure a value and its baseline in alternating
 *                                   windows (A B B A …), so both see the same machine
 *                                   (other processes, disk state, thermal) and the
 *                                   ratio stays meaningful on a shared box
 *  closedLoop                       N concurrent workers, each issuing the next
 *                                   request when the previous one answers
 *  openLoop                         requests started at a fixed rate, whatever the
 *                                   answers do (latency at a given load, SPEC §8 rows
 *                                   such as "200 writes/s")
 *  summarize / percentile           latency distributions
 */

export const now = (): bigint => process.hrtime.bigint()

/** Milliseconds since `start` (a value of now()). */
export const msSince = (start: bigint): number => Number(now() - start) / 1e6

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

export interface Rate {
  ops: number
  ms: number
  /** Operations per second. */
  perSec: number
}

/**
 * Run `fn` repeatedly for at least `ms` milliseconds (and at least `minOps`
 * times), synchronously. `fn` receives the iteration number, so it can cycle
 * through prepared inputs.
 */
export function measureRate (fn: (i: number) => unknown, o: { ms: number, minOps?: number }): Rate {
  const minOps = o.minOps ?? 1
  const limit = BigInt(Math.round(o.ms * 1e6))
  const start = now()
  let ops = 0
  let elapsed = 0n
  do {
    fn(ops)
    ops++
    elapsed = now() - start
  } while (elapsed < limit || ops < minOps)
  const ms = Number(elapsed) / 1e6
  return { ops, ms, perSec: ops / (ms / 1000) }
}

/** As measureRate, for an async operation awaited one at a time.
 * @public (a helper bench/README.md lists)
 */
export async function measureRateAsync (fn: (i: number) => Promise<unknown>, o: { ms: number, minOps?: number }): Promise<Rate> {
  const minOps = o.minOps ?? 1
  const limit = BigInt(Math.round(o.ms * 1e6))
  const start = now()
  let ops = 0
  let elapsed = 0n
  do {
    await fn(ops)
    ops++
    elapsed = now() - start
  } while (elapsed < limit || ops < minOps)
  const ms = Number(elapsed) / 1e6
  return { ops, ms, perSec: ops / (ms / 1000) }
}

/** Time one call (sync or async); returns its value and the milliseconds it took.
 * @public (a helper bench/README.md lists)
 */
export async function timed<T> (fn: () => T | Promise<T>): Promise<{ value: T, ms: number }> {
  const start = now()
  const value = await fn()
  return { value, ms: msSince(start) }
}

/** Repeat an async measurement `runs` times; return every sample and their median. */
export async function medianOf (runs: number, fn: (run: number) => Promise<number> | number): Promise<{ median: number, samples: number[] }> {
  const samples: number[] = []
  for (let i = 0; i < Math.max(1, runs); i++) samples.push(await fn(i))
  return { median: median(samples), samples }
}

/**
 * Alternate `runs` windows of `a` and of `b` in ABBA order (a b, b a, a b, …)
 * and return the median of each. Use it for a value and its baseline: drift
 * in machine load then hits both alike.
 */
export async function interleaved (runs: number, a: (run: number) => Promise<number> | number, b: (run: number) => Promise<number> | number): Promise<{ a: { median: number, samples: number[] }, b: { median: number, samples: number[] } }> {
  const as: number[] = []
  const bs: number[] = []
  for (let i = 0; i < Math.max(1, runs); i++) {
    if (i % 2 === 0) { as.push(await a(i)); bs.push(await b(i)) } else { bs.push(await b(i)); as.push(await a(i)) }
  }
  return { a: { median: median(as), samples: as }, b: { median: median(bs), samples: bs } }
}

export function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample.
 * @public (a helper bench/README.md lists)
 */
export function percentile (xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return percentileSorted(s, p)
}

function percentileSorted (s: readonly number[], p: number): number {
  const rank = Math.ceil((p / 100) * s.length)
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!
}

export interface LatencySummary { n: number, mean: number, p50: number, p90: number, p99: number, max: number }

export function summarize (latenciesMs: readonly number[]): LatencySummary {
  const s = [...latenciesMs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return { n: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN }
  let sum = 0
  for (const x of s) sum += x
  return { n, mean: sum / n, p50: percentileSorted(s, 50), p90: percentileSorted(s, 90), p99: percentileSorted(s, 99), max: s[n - 1]! }
}

export interface LoadResult {
  /** Operations that completed (successfully) inside the measured window. */
  ok: number
  errors: number
  ms: number
  /** Successful operations per second. */
  perSec: number
  /** Latency of each successful operation, ms. */
  latencies: number[]
  firstError?: string
}

/**
 * Closed-loop load: `concurrency` workers, each running `op` back to back for
 * `ms` milliseconds (after `warmupMs` not counted). `op` receives a global
 * sequence number. Errors are counted, not thrown (the first one is kept).
 */
export async function closedLoop (o: { concurrency: number, ms: number, warmupMs?: number, op: (seq: number) => Promise<unknown> }): Promise<LoadResult> {
  let seq = 0
  if ((o.warmupMs ?? 0) > 0) {
    const end = now() + BigInt(Math.round(o.warmupMs! * 1e6))
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (now() < end) await o.op(seq++).catch(() => {})
    }))
  }
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  const start = now()
  const end = start + BigInt(Math.round(o.ms * 1e6))
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (now() < end) {
      const t = now()
      try {
        await o.op(seq++)
        latencies.push(Number(now() - t) / 1e6)
      } catch (e) {
        errors++
        firstError ??= e instanceof Error ? e.message : String(e)
      }
    }
  }))
  const ms = msSince(start)
  return { ok: latencies.length, errors, ms, perSec: latencies.length / (ms / 1000), latencies, ...(firstError !== undefined ? { firstError } : {}) }
}

/**
 * Open-loop load: start `op` every 1000/ratePerSec ms for `ms` milliseconds,
 * without waiting for earlier ones (so a slow system shows as latency, not as
 * a lower offered rate). Latency is measured from the scheduled start time, so
 * event-loop lag of the load generator counts against the result (coordinated
 * omission is avoided). Resolves when every started op has settled. `op`
 * receives its sequence number and its scheduled start (hrtime), for ops that
 * time an end point of their own (e.g. an event observed elsewhere).
 */
export async function openLoop (o: { ratePerSec: number, ms: number, op: (seq: number, due: bigint) => Promise<unknown> }): Promise<LoadResult> {
  const interval = 1e9 / o.ratePerSec
  const total = Math.max(1, Math.floor(o.ms / 1000 * o.ratePerSec))
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  const pending: Array<Promise<void>> = []
  const start = now()
  for (let i = 0; i < total; i++) {
    const due = start + BigInt(Math.round(i * interval))
    const wait = Number(due - now()) / 1e6
    if (wait > 1) await sleep(wait)
    else if (wait > 0) await new Promise(resolve => setImmediate(resolve))
    pending.push(o.op(i, due).then(
      () => { latencies.push(Number(now() - due) / 1e6) },
      (e: unknown) => { errors++; firstError ??= e instanceof Error ? e.message : String(e) }
    ))
  }
  await Promise.all(pending)
  const ms = msSince(start)
  return { ok: latencies.length, errors, ms, perSec: latencies.length / (ms / 1000), latencies, ...(firstError !== undefined ? { firstError } : {}) }
}
