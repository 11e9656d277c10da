/**
 * A full garbage collection after a burst of received sync records.
 *
 * V8 frees an ArrayBuffer held by a promoted object only in a full GC, and it
 * starts one for external memory only once that has grown 64 MiB past the last.
 * A record's bytes live from decode until their batch is stored, long enough to
 * be promoted, so a keeper catching up held 2–3× its live memory in garbage
 * (docs/PERFORMANCE.md "Issue 14, keeper RSS"), and once the burst ended and
 * the node fell idle nothing allocated enough to start the GC that frees it:
 * a 1,000-group keeper kept ~90 MiB of dead heap after its catch-up.
 *
 * The pacer runs one full GC per `everyBytes` of records received, and one
 * when they stop arriving for `quietMs` (the burst's end), each at most once
 * per `minIntervalMs`. The clock and the timer are injected; the collection is
 * `fullGc()` in a daemon.
 */
import v8 from 'node:v8'
import vm from 'node:vm'

export interface GcPacerOptions {
  /** Collect after this many bytes received since the last collection. */
  everyBytes: number
  /** Collect when nothing more arrived for this long, if at least `minBytes` did. */
  quietMs: number
  minBytes: number
  /** Never two collections closer than this. */
  minIntervalMs: number
  collect: () => void
  now?: () => number
  /** A one-shot timer; returns its cancel. */
  after?: (ms: number, fn: () => void) => () => void
  /** Told of each collection: why, how long it took, bytes received since the last. */
  onCollected?: (why: 'bytes' | 'quiet', ms: number, bytes: number) => void
}

export class GcPacer {
  private pending = 0
  private last = -Infinity
  private cancel: (() => void) | undefined
  private readonly now: () => number
  private readonly after: (ms: number, fn: () => void) => () => void

  constructor (private readonly o: GcPacerOptions) {
    this.now = o.now ?? (() => performance.now())
    this.after = o.after ?? ((ms, fn) => { const t = setTimeout(fn, ms); t.unref(); return () => clearTimeout(t) })
  }

  /** `bytes` of records arrived. */
  received (bytes: number): void {
    if (!(bytes > 0)) return
    this.pending += bytes
    if (this.pending >= this.o.everyBytes && this.now() - this.last >= this.o.minIntervalMs) { this.collect('bytes'); return }
    this.cancel?.()
    this.cancel = this.after(this.o.quietMs, () => {
      this.cancel = undefined
      if (this.pending >= this.o.minBytes) {
        const wait = this.o.minIntervalMs - (this.now() - this.last)
        if (wait > 0) this.cancel = this.after(wait, () => { this.cancel = undefined; this.collect('quiet') })
        else this.collect('quiet')
      }
    })
  }

  /** Drop the timer (the node stops). */
  stop (): void { this.cancel?.(); this.cancel = undefined }

  private collect (why: 'bytes' | 'quiet'): void {
    this.cancel?.()
    this.cancel = undefined
    const bytes = this.pending
    const t0 = this.now()
    this.o.collect()
    this.last = this.now()
    this.pending = 0
    this.o.onCollected?.(why, this.last - t0, bytes)
  }
}

let gc: (() => void) | null | undefined

/**
 * V8's full GC, or undefined where it cannot be had. Without `--expose-gc` on
 * the command line, the flag set at run time exposes `gc` to contexts created
 * after it (the way Jest's leak detector gets it); the main context is untouched.
 */
export function fullGc (): (() => void) | undefined {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc')
      const f: unknown = vm.runInNewContext('gc')
      gc = typeof f === 'function' ? f as () => void : null
    } catch { gc = null }
  }
  return gc ?? undefined
}
