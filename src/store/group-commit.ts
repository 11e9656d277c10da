/**
 * Group commit: writes submitted in the same event-loop turn run in one
 * transaction, each in its own savepoint (a failing write rolls back alone and
 * rejects alone), and every promise settles only after that transaction
 * committed. One fsync then acknowledges many writes, which is what lets
 * concurrent clients exceed 1/fsync writes per second without weakening
 * "201 only after commit".
 */
import type { Store } from './store.js'

interface Pending { fn: () => unknown, resolve: (v: unknown) => void, reject: (e: unknown) => void }

const MAX_BATCH = 256

export class GroupCommit {
  private queue: Pending[] = []
  private scheduled = false

  constructor (private readonly store: Store) {}

  submit<T> (fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.flush() })
      }
    })
  }

  private flush (): void {
    this.scheduled = false
    const batch = this.queue.splice(0, MAX_BATCH)
    if (this.queue.length > 0) { this.scheduled = true; setImmediate(() => { this.flush() }) }
    const results: Array<{ ok: true, v: unknown } | { ok: false, e: unknown }> = []
    try {
      this.store.tx(() => {
        for (const p of batch) {
          try { results.push({ ok: true, v: this.store.tx(p.fn) }) } catch (e) { results.push({ ok: false, e }) }
        }
      })
    } catch (e) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is acknowledged.
      for (const p of batch) p.reject(e)
      return
    }
    batch.forEach((p, i) => { const r = results[i]!; if (r.ok) p.resolve(r.v); else p.reject(r.e) })
  }
}
