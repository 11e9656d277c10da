/**
 * Checking received records in bulk (sync, catch-up, recovery) on a pool of
 * worker threads, so every core works and the main thread neither verifies
 * nor decodes them: each worker runs records/record.ts checkRecord (decode,
 * body by kind, Ed25519 signature ~60–85 µs here with libsodium, SHA-256) over its slice of
 * the batch and hands back the decoded fields, which become VerifiedRecords
 * around the main thread's own copy of the bytes. Small batches are checked inline.
 *
 * Transfer: the batch is copied once into a SharedArrayBuffer that every
 * worker reads (no structured-clone copy of each record on the way in); the
 * hashes come back in one transferred buffer per slice. The shared buffers are
 * reused batch after batch (SPARE_BUFFERS): a fresh 1 MiB one per batch was
 * freed only once both isolates had collected it, and a catch-up's churn of
 * such buffers sat in the keeper's malloc heap (docs/PERFORMANCE.md "Issue 14,
 * keeper RSS").
 *
 * Size: one worker fewer than the cores, at least one. On two cores a catch-up
 * keeps both busy with one: the keeper's main thread (~100 µs a record to store
 * it, plus the stream), this worker (~115–160 µs a record under that load), and
 * the sending node. A second worker found no core free (measured 6,040 → 5,750
 * items/s) and cost an isolate (~20 MiB of heap) and a malloc arena of its own.
 *
 * Invariant: nothing is stored unless it was checked: callers get a result per record.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import type { HeapInfo } from 'node:v8'
import { checkRecord, fromChecked, type DecodeFailure, type VerifiedRecord } from '../records/record.js'
import type { WorkerCheck } from './verify-worker.js'

export type Checked = { ok: true, rec: VerifiedRecord } | { ok: false, reason: DecodeFailure }

const INLINE_BELOW = 48
/**
 * A worker's V8 heap limits (MiB). It holds one slice of one batch at a time
 * (≤ ~1 MiB of records): without a cap each worker's young generation grows
 * to V8's default and stays resident (keeper RSS during a catch-up).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 }
/** Shared buffers kept for the next batches (a few batches are in flight per session). */
const SPARE_BUFFERS = 4
/** Larger shared buffers are not kept: a batch is ~1 MiB (sync-protocol.ts BATCH_BYTES). */
const SPARE_MAX_BYTES = 4 * 1024 * 1024

interface Job { bytes: Uint8Array[], maxBytes: number, resolve: (c: Checked[]) => void }

/** What a worker says of itself. */
export interface ThreadInfo { heap: HeapInfo, ed25519: string }

const checkInline = (bytes: Uint8Array[], maxBytes: number): Checked[] => bytes.map(b => toChecked(checkRecord(b, maxBytes), b))

function toChecked (c: ReturnType<typeof checkRecord>, bytes: Uint8Array): Checked {
  return typeof c === 'string' ? { ok: false, reason: c } : { ok: true, rec: fromChecked(c, bytes) }
}

export class Verifier {
  private workers: Worker[] = []
  private seq = 0
  private readonly pending = new Map<number, Job>()
  private readonly infoAsks = new Map<number, (h: ThreadInfo | undefined) => void>()
  /** Set when a worker cannot start or dies: from then on this process verifies inline. */
  private broken = false

  /** Shared buffers no job reads any more, for the next batches. */
  private readonly spare: SharedArrayBuffer[] = []

  constructor (private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  /** A shared buffer of at least `n` bytes: a spare one if one is large enough. */
  private sharedBuffer (n: number): SharedArrayBuffer {
    const k = this.spare.findIndex(b => b.byteLength >= n)
    if (k >= 0) return this.spare.splice(k, 1)[0]!
    // Rounded up so that the next batches, of about the same size, fit in it.
    return new SharedArrayBuffer(Math.max(n, Math.min(SPARE_MAX_BYTES, 2 ** Math.ceil(Math.log2(Math.max(n, 1))))))
  }

  /** Only once every worker given `b` has answered: none reads it after that. */
  private release (b: SharedArrayBuffer): void {
    if (b.byteLength <= SPARE_MAX_BYTES && this.spare.length < SPARE_BUFFERS && !this.broken) this.spare.push(b)
  }

  private ensure (): boolean {
    if (this.broken) return false
    if (this.workers.length > 0) return true
    // Workers run the compiled verify-worker.js; from TypeScript sources (tests
    // under tsx) there is none, and verification stays on this thread.
    if (!import.meta.url.endsWith('.js')) { this.broken = true; return false }
    try {
      for (let k = 0; k < this.size; k++) {
        // No execArgv of ours: a process started with loader hooks (tsx) would
        // hand them to a thread they do not reach, and the thread would not start.
        const w = new Worker(new URL('./verify-worker.js', import.meta.url), { resourceLimits: WORKER_LIMITS, execArgv: [] })
        w.unref()
        w.on('message', (m: { id: number, out: WorkerCheck[], hashes: Uint8Array } | ({ id: number } & ThreadInfo)) => {
          if ('heap' in m) { this.infoAsks.get(m.id)?.({ heap: m.heap, ed25519: m.ed25519 }); this.infoAsks.delete(m.id); return }
          const j = this.pending.get(m.id)
          this.pending.delete(m.id)
          j?.resolve(m.out.map((c, i) => typeof c === 'string' ? { ok: false, reason: c } : { ok: true, rec: fromChecked({ ...c, hash: m.hashes.subarray(32 * i, 32 * i + 32) }, j.bytes[i]!) }))
        })
        w.on('error', () => { this.fail() })
        w.on('exit', () => { if (this.workers.includes(w)) this.fail() })
        this.workers.push(w)
      }
      return true
    } catch {
      this.fail()
      return false
    }
  }

  /** Worker threads in use (0 before the first large batch, and once checking fell back to this thread). */
  get threads (): number { return this.workers.length }

  /** Each worker's V8 heap (memory figures: the bench's keeper breakdown); [] without workers. */
  async heaps (): Promise<Array<HeapInfo | undefined>> { return (await this.threadInfo()).map(t => t?.heap) }

  /** Each worker's heap and Ed25519 implementation (a worker that fell back to OpenSSL is slower: tests); [] without workers. */
  async threadInfo (): Promise<Array<ThreadInfo | undefined>> {
    return await Promise.all(this.workers.map(async w => await new Promise<ThreadInfo | undefined>(resolve => {
      const id = ++this.seq
      this.infoAsks.set(id, resolve)
      w.postMessage({ id, heap: true })
    })))
  }

  /** A worker failed: finish every outstanding job here, and stop using workers. */
  private fail (): void {
    this.broken = true
    const ws = this.workers
    this.workers = []
    for (const w of ws) void w.terminate()
    this.settle()
  }

  /** Outstanding jobs are checked here; outstanding thread-info questions get no answer. */
  private settle (): void {
    for (const [id, j] of this.pending) { this.pending.delete(id); j.resolve(checkInline(j.bytes, j.maxBytes)) }
    for (const [id, r] of this.infoAsks) { this.infoAsks.delete(id); r(undefined) }
  }

  /** Decode and verify a batch of untrusted record bytes: a result per record, in order. */
  async check (batch: Uint8Array[], maxBytes: number): Promise<Checked[]> {
    if (batch.length < INLINE_BELOW || !this.ensure()) return checkInline(batch, maxBytes)
    // Oversized records are refused here, before any is copied to the workers.
    const out: Checked[] = new Array(batch.length)
    const idx: number[] = []
    let total = 0
    batch.forEach((b, k) => {
      if (b.length > maxBytes) out[k] = { ok: false, reason: 'too-large' }
      else { idx.push(k); total += b.length }
    })
    const buf = this.sharedBuffer(total)
    const shared = new Uint8Array(buf, 0, total)
    const offs = new Uint32Array(idx.length + 1)
    idx.forEach((k, j) => { shared.set(batch[k]!, offs[j]!); offs[j + 1] = offs[j]! + batch[k]!.length })
    const workers = this.workers
    const per = Math.ceil(idx.length / workers.length)
    await Promise.all(workers.map(async (w, wi) => {
      const from = wi * per
      const to = Math.min(idx.length, from + per)
      if (from >= to) return
      const id = ++this.seq
      const mine = idx.slice(from, to)
      const res = new Promise<Checked[]>(resolve => this.pending.set(id, { bytes: mine.map(k => batch[k]!), maxBytes, resolve }))
      if (this.broken) this.fail() // the pool died between ensure() and now
      else w.postMessage({ id, buf, offs: offs.subarray(from, to + 1), maxBytes })
      const got = await res
      mine.forEach((k, j) => { out[k] = got[j]! })
    }))
    this.release(buf)
    return out
  }

  async close (): Promise<void> {
    const ws = this.workers
    this.workers = []
    await Promise.all(ws.map(async w => await w.terminate()))
    this.settle()
  }
}
