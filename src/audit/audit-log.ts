/**
 * Local, append-only, hash-chained audit log (format and verifier: chain.ts).
 * Entries hold opaque IDs and counts only, never content or names. A signed
 * checkpoint lands every CHECKPOINT_EVERY entries and at every clean stop, so
 * a rewrite of history must also forge the node's signature; checkpoints are
 * verified against this node's own key, never the key they carry.
 *
 * Invariants: seq grows by one per entry, in one INSERT (safe inside a
 * caller's transaction); verify() reads a snapshot (entries appended while it
 * runs are not judged) and yields to the event loop between pages, so a
 * million-entry verify never stalls the API or the network.
 */
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { toHex } from '../crypto/bytes.js'
import { sign, type SigningKey } from '../crypto/sign.js'
import type { AuditRow, Store } from '../store/store.js'
import { ChainVerifier, GENESIS, checkpointMessage, entryHash, parseCheckpoint, type ChainVerdict } from './chain.js'

export interface AuditEntry { seq: number, at: string, kind: string, [k: string]: unknown, hash: string, prevHash: string }

/**
 * What `GET /api/v1/audit/verify` answers: the local chain's verdict, and on
 * an entity node the comparison with the keepers' copy of the checkpoints.
 */
export type AuditVerdict = Omit<ChainVerdict, 'reason'> & { reason?: ChainVerdict['reason'] | NonNullable<KeeperCheck['reason']>, keepers?: KeeperCheck }

/** The local log compared with the checkpoints held by the personal group's keepers. */
export interface KeeperCheck {
  /** Whether the keepers' copy could be refreshed just now (false: compared with the copy last synced). */
  refreshed: boolean
  /** Checkpoints of this node found in the copy. */
  checkpoints: number
  /** The newest one's upTo (0: none). */
  newestUpTo: number
  /** Whether every checkpoint in the copy matches the local log. */
  ok: boolean
  brokenAt?: number
  reason?: 'truncated' | 'rewritten' | 'foreign-key'
  error?: string
  /** The personal group has no keeper: no copy exists to compare with. */
  noKeeper?: true
}

/** A checkpoint just written: what the keeper copy replicates (keeper-copy.ts). */
export interface Checkpoint { seq: number, upTo: number, head: string, sig: string, at: number }

/** A signed checkpoint every this many entries. */
const CHECKPOINT_EVERY = 1000
/** Rows per read while verifying or exporting (one page in memory at a time). */
const PAGE = 5000
/** Keys every exported entry carries; data may not use them (the export must round-trip). */
const RESERVED = new Set(['seq', 'at', 'kind', 'hash', 'prevHash'])

export class AuditLog {
  private tail: { seq: number, hash: string, kind: string }
  private listeners: Array<(e: AuditEntry) => void> = []
  private checkpointListeners: Array<(c: Checkpoint) => void> = []

  private readonly checkpointEvery: number

  /** `checkpointEvery`: entries between signed checkpoints (default 1000). */
  constructor (private readonly store: Store, private readonly nodeKey: SigningKey, o: { checkpointEvery?: number } = {}) {
    this.checkpointEvery = o.checkpointEvery ?? CHECKPOINT_EVERY
    const t = store.auditTail()
    this.tail = t === undefined ? { seq: 0, hash: GENESIS, kind: '' } : { seq: t.seq, hash: toHex(t.hash), kind: t.kind }
  }

  /** The node key checkpoints are signed with and verified against. */
  get publicKey (): Uint8Array { return this.nodeKey.publicKey }

  get tailSeq (): number { return this.tail.seq }

  /** Append one entry. Safe inside a caller's transaction (it is one INSERT). */
  record (kind: string, data: Record<string, unknown> = {}): void {
    for (const k of Object.keys(data)) if (RESERVED.has(k)) throw new Error(`audit entry data may not use the key ${k}`)
    const seq = this.tail.seq + 1
    const at = Date.now()
    const json = JSON.stringify(data)
    const hash = entryHash(this.tail.hash, seq, at, kind, json)
    const row = { seq, at, kind, data: json, prev: Buffer.from(this.tail.hash, 'hex'), hash: Buffer.from(hash, 'hex') }
    this.store.auditAppend(row)
    this.tail = { seq, hash, kind }
    if (this.listeners.length > 0) { const e = toEntry(row); for (const l of this.listeners) l(e) }
    if (seq % this.checkpointEvery === 0) this.checkpoint()
  }

  /**
   * Append without waiting for an fsync (see Store.relaxed): survives a process
   * crash, and the next synchronous commit makes it durable. Used on the circle
   * share path, where an fsync per entry would double the unseal latency.
   */
  recordSoon (kind: string, data: Record<string, unknown> = {}): void {
    this.store.relaxed(() => { this.record(kind, data) })
  }

  /** Sign the current head with the node key (nothing to do when the last entry is a checkpoint). */
  checkpoint (): void {
    if (this.tail.seq === 0 || this.tail.kind === 'checkpoint') return
    const upTo = this.tail.seq
    const head = this.tail.hash
    const sig = toHex(sign(this.nodeKey, checkpointMessage(upTo, head)))
    this.record('checkpoint', { upTo, head, sig, key: toHex(this.nodeKey.publicKey) })
    const c: Checkpoint = { seq: this.tail.seq, upTo, head, sig, at: Date.now() }
    this.store.afterCommit(() => { for (const l of this.checkpointListeners) l(c) })
  }

  onEntry (fn: (e: AuditEntry) => void): void { this.listeners.push(fn) }
  /** Called after the transaction holding a new checkpoint commits. */
  onCheckpoint (fn: (c: Checkpoint) => void): void { this.checkpointListeners.push(fn) }

  list (sinceSeq: number, limit: number): AuditEntry[] {
    return this.store.auditList(sinceSeq, limit).map(toEntry)
  }

  /**
   * Every entry after `sinceSeq` as one JSON text each (what GET /api/v1/audit
   * returns per entry), a page at a time: safe to consume across awaits.
   */
  * exportLines (sinceSeq = 0): Generator<string> {
    let after = sinceSeq
    const upTo = this.tail.seq
    for (;;) {
      const rows = this.store.auditList(after, PAGE)
      for (const r of rows) {
        if (r.seq > upTo) return
        yield JSON.stringify(toEntry(r))
        after = r.seq
      }
      if (rows.length < PAGE) return
    }
  }

  /** Checkpoint entries after `sinceSeq`, oldest first (what the keepers' copy still lacks). */
  checkpointsSince (sinceSeq: number): Checkpoint[] {
    const out: Checkpoint[] = []
    let after = sinceSeq
    for (;;) {
      const rows = this.store.auditList(after, PAGE)
      for (const r of rows) {
        after = r.seq
        if (r.kind !== 'checkpoint') continue
        const d = parseCheckpoint(r.data)
        if (d !== undefined) out.push({ seq: r.seq, upTo: d.upTo, head: d.head, sig: d.sig, at: r.at })
      }
      if (rows.length < PAGE) return out
    }
  }

  /** hex hash of entry `seq`, if the log holds it. */
  hashAt (seq: number): string | undefined {
    const r = this.store.auditList(seq - 1, 1)[0]
    return r !== undefined && r.seq === seq ? toHex(r.hash) : undefined
  }

  /** Walk the chain: every hash recomputes and links, every checkpoint verifies under this node's key. */
  async verify (): Promise<ChainVerdict> {
    const v = new ChainVerifier(this.nodeKey.publicKey)
    const upTo = this.store.auditTail()?.seq ?? 0
    let after = 0
    while (after < upTo) {
      const rows = this.store.auditPage(after, PAGE)
      if (rows.length === 0) break
      for (const r of rows) {
        if (r[0] > upTo) break
        if (!v.push({ seq: r[0], at: r[1], kind: r[2], data: r[3], prev: r[4], hash: r[5] })) return v.result()
        after = r[0]
      }
      if (rows.length < PAGE) break
      await yieldLoop()
    }
    return v.result()
  }

}

export function toEntry (r: AuditRow): AuditEntry {
  const data = JSON.parse(r.data) as Record<string, unknown>
  return { ...data, seq: r.seq, at: new Date(r.at).toISOString(), kind: r.kind, hash: toHex(r.hash), prevHash: toHex(r.prev) }
}
