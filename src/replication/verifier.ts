/**
 * Signature verification for bulk transfers (sync, catch-up, recovery) on a pool
 * of worker threads, so every core verifies: Ed25519 verify (~100 µs here) is
 * the dominant cost of accepting a record. Small batches are verified inline.
 * Nothing is stored unless its signature verified: callers get per-record results.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { decodeFailure, verifyRecordSignature as verify, prepareRecord, withCheckedSignature, type DecodeFailure, type PreparedRecord, type VerifiedRecord } from '../records/record.js'

export type Checked = { ok: true, rec: VerifiedRecord } | { ok: false, reason: DecodeFailure }

const INLINE_BELOW = 48

interface Job { pubs: Uint8Array[], msgs: Uint8Array[], sigs: Uint8Array[], resolve: (ok: Uint8Array) => void }

const verifyInline = (j: Pick<Job, 'pubs' | 'msgs' | 'sigs'>): Uint8Array => new Uint8Array(j.msgs.map((m, k) => verify(j.pubs[k]!, m, j.sigs[k]!) ? 1 : 0))

export class Verifier {
  private workers: Worker[] = []
  private seq = 0
  private readonly pending = new Map<number, Job>()
  /** Set when a worker cannot start or dies: from then on this process verifies inline. */
  private broken = false

  constructor (private readonly size = Math.max(1, Math.min(4, availableParallelism()))) {}

  private ensure (): boolean {
    if (this.broken) return false
    if (this.workers.length > 0) return true
    // Workers run the compiled verify-worker.js; from TypeScript sources (tests
    // under tsx) there is none, and verification stays on this thread.
    if (!import.meta.url.endsWith('.js')) { this.broken = true; return false }
    try {
      for (let k = 0; k < this.size; k++) {
        const w = new Worker(new URL('./verify-worker.js', import.meta.url))
        w.unref()
        w.on('message', (m: { id: number, ok: Uint8Array }) => { const j = this.pending.get(m.id); this.pending.delete(m.id); j?.resolve(m.ok) })
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

  /** A worker failed: finish every outstanding job here, and stop using workers. */
  private fail (): void {
    this.broken = true
    const ws = this.workers
    this.workers = []
    for (const w of ws) void w.terminate()
    for (const [id, j] of this.pending) { this.pending.delete(id); j.resolve(verifyInline(j)) }
  }

  /** Decode and verify a batch of untrusted record bytes (records/record.ts prepareRecord, then the signatures here). */
  async check (batch: Uint8Array[], maxBytes: number): Promise<Checked[]> {
    const out: Checked[] = new Array(batch.length)
    const parsed: Array<PreparedRecord & { k: number }> = []
    batch.forEach((b, k) => {
      try {
        parsed.push({ k, ...prepareRecord(b, maxBytes) })
      } catch (e) {
        out[k] = { ok: false, reason: decodeFailure(e) }
      }
    })
    let ok: Uint8Array
    if (parsed.length < INLINE_BELOW || !this.ensure()) {
      ok = verifyInline({ pubs: parsed.map(p => p.rec.s), msgs: parsed.map(p => p.message), sigs: parsed.map(p => p.rec.x) })
    } else {
      const workers = this.workers
      const per = Math.ceil(parsed.length / workers.length)
      const parts = await Promise.all(workers.map(async (w, wi) => {
        const slice = parsed.slice(wi * per, (wi + 1) * per)
        if (slice.length === 0) return new Uint8Array(0)
        const id = ++this.seq
        const job = { pubs: slice.map(p => p.rec.s), msgs: slice.map(p => p.message), sigs: slice.map(p => p.rec.x) }
        const res = new Promise<Uint8Array>(resolve => this.pending.set(id, { ...job, resolve }))
        if (this.broken) this.fail() // the pool died between ensure() and now
        else w.postMessage({ id, ...job })
        return await res
      }))
      ok = new Uint8Array(parsed.length)
      let o = 0
      for (const p of parts) { ok.set(p, o); o += p.length }
    }
    parsed.forEach((p, j) => {
      out[p.k] = ok[j] === 1 ? { ok: true, rec: withCheckedSignature(p) } : { ok: false, reason: 'bad-signature' }
    })
    return out
  }

  async close (): Promise<void> {
    const ws = this.workers
    this.workers = []
    await Promise.all(ws.map(async w => await w.terminate()))
    for (const [id, j] of this.pending) { this.pending.delete(id); j.resolve(verifyInline(j)) }
  }
}
