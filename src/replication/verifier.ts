/**
 * Signature verification for bulk transfers (sync, catch-up, recovery) on a pool
 * of worker threads, so every core verifies: Ed25519 verify (~100 µs here) is
 * the dominant cost of accepting a record. Small batches are verified inline.
 * Nothing is stored unless its signature verified: callers get per-record results.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { verify } from '../crypto/sign.js'
import { parseUnverified, verifiedFromParsed, type VerifiedRecord } from '../records/record.js'
import { checkBody } from '../records/index.js'
import { IntegrityError } from '../util/errors.js'

export type Checked = { ok: true, rec: VerifiedRecord } | { ok: false, reason: string }

const INLINE_BELOW = 48

export class Verifier {
  private workers: Worker[] = []
  private next = 0
  private seq = 0
  private readonly pending = new Map<number, (ok: Uint8Array) => void>()

  constructor (private readonly size = Math.max(1, Math.min(4, availableParallelism()))) {}

  private ensure (): void {
    if (this.workers.length > 0) return
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    for (let k = 0; k < this.size; k++) {
      const w = new Worker(new URL(`./verify-worker${ext}`, import.meta.url))
      w.unref()
      w.on('message', (m: { id: number, ok: Uint8Array }) => { const f = this.pending.get(m.id); this.pending.delete(m.id); f?.(m.ok) })
      w.on('error', () => { /* a crashed worker fails its jobs via terminate below */ })
      this.workers.push(w)
    }
  }

  /** Parse, shape-check and verify a batch of untrusted record bytes. */
  async check (batch: Uint8Array[], maxBytes: number): Promise<Checked[]> {
    const out: Checked[] = new Array(batch.length)
    const parsed: Array<{ k: number, rec: ReturnType<typeof parseUnverified>['rec'], message: Uint8Array }> = []
    batch.forEach((b, k) => {
      try {
        const p = parseUnverified(b, maxBytes)
        parsed.push({ k, ...p })
      } catch (e) {
        out[k] = { ok: false, reason: (e instanceof IntegrityError ? e.details?.reason as string : undefined) ?? 'malformed' }
      }
    })
    let ok: Uint8Array
    if (parsed.length < INLINE_BELOW) {
      ok = new Uint8Array(parsed.map(p => verify(p.rec.s, p.message, p.rec.x) ? 1 : 0))
    } else {
      this.ensure()
      const per = Math.ceil(parsed.length / this.workers.length)
      const parts = await Promise.all(this.workers.map(async (w, wi) => {
        const slice = parsed.slice(wi * per, (wi + 1) * per)
        if (slice.length === 0) return new Uint8Array(0)
        const id = ++this.seq
        const res = new Promise<Uint8Array>(resolve => this.pending.set(id, resolve))
        w.postMessage({ id, pubs: slice.map(p => p.rec.s), msgs: slice.map(p => p.message), sigs: slice.map(p => p.rec.x) })
        return await res
      }))
      ok = new Uint8Array(parsed.length)
      let o = 0
      for (const p of parts) { ok.set(p, o); o += p.length }
    }
    parsed.forEach((p, j) => {
      if (ok[j] !== 1) { out[p.k] = { ok: false, reason: 'bad-signature' }; return }
      try {
        const rec = verifiedFromParsed(p.rec, batch[p.k]!)
        checkBody(rec)
        out[p.k] = { ok: true, rec }
      } catch {
        out[p.k] = { ok: false, reason: 'malformed' }
      }
    })
    return out
  }

  async close (): Promise<void> {
    const ws = this.workers
    this.workers = []
    await Promise.all(ws.map(async w => await w.terminate()))
    for (const f of this.pending.values()) f(new Uint8Array(0))
    this.pending.clear()
  }
}
