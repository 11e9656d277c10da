/**
 * Local, append-only, hash-chained audit log.
 *   hash_n = SHA-256("cairn/audit/v1" || prev || seq || at || kind || data)
 * Entries hold opaque IDs and counts only, never content or names. Checkpoint
 * entries carry the node key's signature over the chain head, so a rewrite of
 * history must also forge the node's signature. verify() walks the whole chain.
 */
import { taggedHash } from '../crypto/hash.js'
import { utf8, toHex } from '../crypto/bytes.js'
import { sign, verify as verifySig, type SigningKey } from '../crypto/sign.js'
import type { AuditRow, Store } from '../store/store.js'

export interface AuditEntry { seq: number, at: string, kind: string, [k: string]: unknown, hash: string, prevHash: string }

const GENESIS = new Uint8Array(32)
/** A signed checkpoint every this many entries. */
const CHECKPOINT_EVERY = 1000

function entryHash (prev: Uint8Array, seq: number, at: number, kind: string, data: string): Uint8Array {
  return taggedHash('cairn/audit/v1', prev, utf8(`${seq}\n${at}\n${kind}\n${data}`))
}

export class AuditLog {
  private tail: { seq: number, hash: Uint8Array }
  private listeners: Array<(e: AuditEntry) => void> = []

  constructor (private readonly store: Store, private readonly nodeKey?: SigningKey) {
    const t = store.auditTail()
    this.tail = t === undefined ? { seq: 0, hash: GENESIS } : { seq: t.seq, hash: new Uint8Array(t.hash) }
  }

  /** Append one entry. Safe inside a caller's transaction (it is one INSERT). */
  record (kind: string, data: Record<string, unknown> = {}): void {
    const seq = this.tail.seq + 1
    const at = Date.now()
    const json = JSON.stringify(data)
    const hash = entryHash(this.tail.hash, seq, at, kind, json)
    const row = { seq, at, kind, data: json, prev: Buffer.from(this.tail.hash), hash: Buffer.from(hash) }
    this.store.auditAppend(row)
    this.tail = { seq, hash }
    for (const l of this.listeners) l(toEntry(row))
    if (this.nodeKey !== undefined && seq % CHECKPOINT_EVERY === 0) this.checkpoint()
  }

  /**
   * Append without waiting for an fsync (see Store.relaxed): survives a process
   * crash, and the next synchronous commit makes it durable. Used on the circle
   * share path, where an fsync per entry would double the unseal latency.
   */
  recordSoon (kind: string, data: Record<string, unknown> = {}): void {
    this.store.relaxed(() => { this.record(kind, data) })
  }

  /** Sign the current head with the node key. */
  checkpoint (): void {
    if (this.nodeKey === undefined || this.tail.seq === 0) return
    const head = toHex(this.tail.hash)
    const sig = Buffer.from(sign(this.nodeKey, utf8(`cairn/audit-checkpoint/v1\n${this.tail.seq}\n${head}`))).toString('hex')
    this.record('checkpoint', { upTo: this.tail.seq, head, sig, key: toHex(this.nodeKey.publicKey) })
  }

  onEntry (fn: (e: AuditEntry) => void): void { this.listeners.push(fn) }

  list (sinceSeq: number, limit: number): AuditEntry[] {
    return this.store.auditList(sinceSeq, limit).map(toEntry)
  }

  /** Walk the chain: every hash recomputes and links, every checkpoint signature verifies. */
  verify (): { ok: boolean, entries: number, brokenAt?: number, reason?: string } {
    let prev: Uint8Array = GENESIS
    let after = 0
    let n = 0
    for (;;) {
      const rows = this.store.auditList(after, 5000)
      if (rows.length === 0) break
      for (const r of rows) {
        n++
        if (!Buffer.from(r.prev).equals(Buffer.from(prev))) return { ok: false, entries: n, brokenAt: r.seq, reason: 'prevHash does not link' }
        const h = entryHash(prev, r.seq, r.at, r.kind, r.data)
        if (!Buffer.from(h).equals(r.hash)) return { ok: false, entries: n, brokenAt: r.seq, reason: 'hash does not match entry' }
        if (r.kind === 'checkpoint') {
          const d = JSON.parse(r.data) as { upTo: number, head: string, sig: string, key: string }
          const ok = d.head === toHex(prev) && d.upTo === r.seq - 1 &&
            verifySig(Buffer.from(d.key, 'hex'), utf8(`cairn/audit-checkpoint/v1\n${d.upTo}\n${d.head}`), Buffer.from(d.sig, 'hex'))
          if (!ok) return { ok: false, entries: n, brokenAt: r.seq, reason: 'checkpoint signature does not verify' }
        }
        prev = h
        after = r.seq
      }
    }
    return { ok: true, entries: n }
  }
}

function toEntry (r: AuditRow): AuditEntry {
  const data = JSON.parse(r.data) as Record<string, unknown>
  return { ...data, seq: r.seq, at: new Date(r.at).toISOString(), kind: r.kind, hash: toHex(r.hash), prevHash: toHex(r.prev) }
}
