/**
 * Group commit: writes submitted in the same event-loop turn run in one
 * transaction, each in its own savepoint (a failing write rolls back alone and
 * rejects alone), and every promise settles only after that transaction is
 * durable. One fsync then acknowledges many writes, which is what lets
 * concurrent clients exceed 1/fsync writes per second without weakening
 * "201 only after commit".
 *
 * The fsync runs off the event loop. `synchronous = FULL` in WAL mode is
 * NORMAL plus an fsync of the WAL after each commit, done inside the commit,
 * on the main thread: measured under the replication bench's load, commits
 * held the agent's event loop 30–90% of each second (10–400 ms per commit
 * while other processes wrote to the same disk), and nothing else ran meanwhile
 * (HTTP parsing, gossipsub publishes). So a batch commits with NORMAL (its
 * frames are written to the WAL: visible, and they survive kill -9), then an
 * fdatasync of the WAL file on libuv's thread pool makes them survive power
 * loss, and only then do its writes resolve. Batches that commit while a sync
 * is under way wait for the next one, which covers all of them (a sync covers
 * every write issued before it started).
 *
 * A batch runs in two passes inside its one transaction. First each write's
 * function, in its own savepoint. A write may leave part of its work for the
 * second pass (`later`), and ask for a step once every write of the batch has
 * run its first part (`beforeLater`): the item service seals a batch's new
 * items in the first pass, signs them with one signature per group in that
 * step, and stores each in the second (items/batch-signer.ts). A second-pass
 * step runs in its own savepoint; if it throws, its write is refused alone and
 * its first part stays (for an item: the key's usage count, which counts
 * what was sealed).
 *
 * A committed write is visible to readers and its afterCommit hooks (the
 * `stored` event, the gossipsub push) run before its sync completes; that
 * overlaps the push with the fsync. If power fails in between, the write was
 * never acknowledged; a keeper that already received it gives it back by
 * anti-entropy.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { CairnError, isDiskFull, storageFull } from '../util/errors.js'
import type { Store } from './store.js'

interface Pending { fn: () => unknown, resolve: (v: unknown) => void, reject: (e: unknown) => void }
type Outcome = { ok: true, v: unknown } | { ok: false, e: unknown }

const MAX_BATCH = 256

/** Makes every commit issued so far survive power loss. */
export interface Durability { sync: () => Promise<void>, close: () => Promise<void> }

/**
 * fdatasync of the store's WAL file. The file exists from the store's open
 * (the open check and migrations commit with FULL, which also synced its
 * directory entry) and SQLite only truncates it while the connection is open,
 * so one handle stays valid.
 */
export function walSync (dbPath: string): Durability {
  let fh: Promise<FileHandle> | undefined
  return {
    sync: async () => {
      if (fh === undefined) {
        const opening = open(`${dbPath}-wal`, 'r')
        // A failed open is retried by the next sync, not remembered.
        opening.catch(() => { if (fh === opening) fh = undefined })
        fh = opening
      }
      await (await fh).datasync()
    },
    close: async () => { if (fh !== undefined) await (await fh.catch(() => undefined))?.close() }
  }
}

/** The batch whose first pass is running: each write's second-pass steps, and the steps between the passes. */
interface Running { seq: number, index: number, later: Array<Array<() => void>>, between: Set<() => void> }

export class GroupCommit {
  private queue: Pending[] = []
  private scheduled = false
  private running: Running | undefined
  private batches = 0
  /** Committed batches waiting for a sync that started after their commit. */
  private unsynced: Array<(err?: unknown) => void> = []
  private syncing: Promise<void> | undefined

  /** `durability` undefined: commits run with the store's own FULL sync (an in-memory store). */
  constructor (private readonly store: Store, private readonly durability?: Durability) {}

  /**
   * A group commit on `store`, with its WAL synced off the event loop when it
   * is a file in WAL mode (a file system refusing WAL keeps FULL in the commit).
   */
  static forStore (store: Store): GroupCommit {
    const wal = store.path !== ':memory:' && store.db.pragma('journal_mode', { simple: true }) === 'wal'
    return new GroupCommit(store, wal ? walSync(store.path) : undefined)
  }

  submit<T> (fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.flush() })
      }
    })
  }

  /**
   * Inside a write's function: run `step` in the batch's second pass, after every
   * write has run its first part. False outside a batch (the caller does it now).
   */
  later (step: () => void): boolean {
    const r = this.running
    if (r === undefined || r.index < 0) return false
    r.later[r.index]!.push(step)
    return true
  }

  /** The batch running now (a sequence number), undefined outside one. */
  batchSeq (): number | undefined { return this.running?.seq }

  /** Inside a write's function: run `step` between the passes, once however many writes ask (false outside a batch). */
  beforeLater (step: () => void): boolean {
    const r = this.running
    if (r === undefined || r.index < 0) return false
    r.between.add(step)
    return true
  }

  private flush (): void {
    this.scheduled = false
    const batch = this.queue.splice(0, MAX_BATCH)
    if (this.queue.length > 0) { this.scheduled = true; setImmediate(() => { this.flush() }) }
    const results: Outcome[] = []
    const run = (): void => {
      const r: Running = { seq: ++this.batches, index: -1, later: batch.map(() => []), between: new Set() }
      this.running = r
      try {
        this.store.tx(() => {
          batch.forEach((p, i) => {
            r.index = i
            try { results.push({ ok: true, v: this.store.tx(p.fn) }) } catch (e) { results.push({ ok: false, e }); r.later[i] = [] }
          })
          r.index = -1
          this.secondPass(r, results)
        })
      } finally { this.running = undefined }
    }
    try {
      if (this.durability === undefined) run()
      else this.store.relaxed(run)
    } catch (e) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is acknowledged.
      for (const p of batch) p.reject(e)
      return
    }
    // A write that failed wrote nothing: it is refused at once.
    const ok: Array<{ p: Pending, v: unknown }> = []
    batch.forEach((p, i) => { const r = results[i]!; if (r.ok) ok.push({ p, v: r.v }); else p.reject(r.e) })
    const settle = (err?: unknown): void => { for (const w of ok) { if (err !== undefined) w.p.reject(err); else w.p.resolve(w.v) } }
    if (this.durability === undefined || ok.length === 0) { settle(); return }
    this.afterSync(settle)
  }

  /** The steps between the passes, then each write's second part in its own savepoint. */
  private secondPass (r: Running, results: Outcome[]): void {
    try {
      for (const step of r.between) step()
    } catch (e) {
      // A step between the passes serves every write that left work for later: all of them fail.
      r.later.forEach((steps, i) => { if (steps.length > 0) results[i] = { ok: false, e } })
      return
    }
    r.later.forEach((steps, i) => {
      if (steps.length === 0) return
      try { this.store.tx(() => { for (const step of steps) step() }) } catch (e) { results[i] = { ok: false, e } }
    })
  }

  private afterSync (settle: (err?: unknown) => void): void {
    this.unsynced.push(settle)
    this.syncing ??= this.drainSyncs()
  }

  /** Once every committed write is settled: close the WAL handle (before the store closes). */
  async close (): Promise<void> {
    while (this.syncing !== undefined) await this.syncing
    await this.durability?.close()
  }

  /** One sync at a time; each covers every batch committed before it started. */
  private async drainSyncs (): Promise<void> {
    while (this.unsynced.length > 0) {
      const covered = this.unsynced
      this.unsynced = []
      let err: unknown
      try { await this.durability!.sync() } catch (e) {
        // Committed but not durable: not acknowledged (it may still be there after a restart).
        err = isDiskFull(e) ? storageFull(e) : new CairnError('UNAVAILABLE', `the disk did not confirm the write (${String((e as { code?: unknown }).code ?? e)}): it is not acknowledged and may or may not be there after a restart; check the disk holding the data dir, then read before retrying`)
      }
      for (const s of covered) s(err)
    }
    // In the same synchronous step as the last check: a batch committed later starts a new drain.
    this.syncing = undefined
  }
}
