/**
 * The audit log's hash chain and its verifier. Pure: rows in, verdict out, so
 * the same code checks the node's own table (audit-log.ts) and an exported
 * JSON Lines file an auditor holds (export.ts).
 *
 *   hash_n = SHA-256("cairn/audit/v1" || 0x00 || hash_{n-1} || "<seq>\n<at>\n<kind>\n<data>")
 *   hash_0 = 32 zero bytes; seq starts at 1 and has no gaps; at = Unix ms; data = JSON text
 *
 * A checkpoint is an entry of kind `checkpoint` whose data is
 *   {upTo: seq - 1, head: hex(hash_{seq-1}), sig, key}
 * with sig = Ed25519 by the node key over "cairn/audit-checkpoint/v1\n<upTo>\n<head>".
 *
 * Invariants of verify:
 *  - a checkpoint counts only when signed by the key the caller trusts (the
 *    node's own key), never by the key the checkpoint names: a log rewritten
 *    and re-signed with another key is broken at its first checkpoint;
 *  - the first failing entry is reported (`brokenAt` = its seq, or the seq
 *    where a missing entry should be), with a stable reason code;
 *  - edit → hash-mismatch, delete → gap, insert → prev-mismatch (or gap /
 *    hash-mismatch, depending on how it was spliced in); a run of entries
 *    rewritten with consistent hashes → checkpoint-mismatch at the next
 *    checkpoint, or a bad or foreign signature if that was re-signed too.
 * A truncated tail leaves a valid prefix: only a copy held elsewhere (the
 * keepers', see keeper-copy.ts) can show that entries are missing at the end.
 */
import { taggedHexHasher } from '../crypto/hash.js'
import { toHex, utf8 } from '../crypto/bytes.js'
import { verify as verifySig } from '../crypto/sign.js'

export const GENESIS = '0'.repeat(64)

/**
 * One entry; hashes as lowercase hex. Hex, not bytes, because that is what
 * is cheap to read: SQLite's hex() makes a string per row where a BLOB column
 * makes a Node Buffer, and 1M Buffers cost 2–3× the hashing itself (measured:
 * reading 200k rows with the two BLOB columns 2.5 s, with hex() 0.8 s).
 */
export interface ChainRow { seq: number, at: number, kind: string, data: string, prev: string, hash: string }

export type BreakReason =
  | 'gap' | 'prev-mismatch' | 'hash-mismatch'
  | 'checkpoint-malformed' | 'checkpoint-mismatch' | 'checkpoint-foreign-key' | 'checkpoint-bad-signature'

export interface ChainVerdict {
  ok: boolean
  /** Entries read (up to and including the broken one). */
  entries: number
  brokenAt?: number
  reason?: BreakReason
  /** Checkpoints that verified under the trusted key. */
  checkpoints: number
  /** Last entry covered by a verified checkpoint (0: none). */
  signedUpTo: number
  /** Seq and hash of the last entry read that verified. */
  tail: { seq: number, hash: string }
}

const hashEntry = taggedHexHasher('cairn/audit/v1')

/** hex(hash_n) from hex(hash_{n-1}) and the entry's fields. */
export function entryHash (prevHex: string, seq: number, at: number, kind: string, data: string): string {
  return hashEntry(prevHex, `${seq}\n${at}\n${kind}\n${data}`)
}

export const checkpointMessage = (upTo: number, head: string): Uint8Array => utf8(`cairn/audit-checkpoint/v1\n${upTo}\n${head}`)

export interface CheckpointData { upTo: number, head: string, sig: string, key: string }

export function parseCheckpoint (data: string): CheckpointData | undefined {
  let d: unknown
  try { d = JSON.parse(data) } catch { return undefined }
  if (d === null || typeof d !== 'object') return undefined
  const c = d as Record<string, unknown>
  const hex = (v: unknown, n: number): boolean => typeof v === 'string' && v.length === n && /^[0-9a-f]+$/.test(v)
  if (typeof c.upTo !== 'number' || !Number.isSafeInteger(c.upTo) || !hex(c.head, 64) || !hex(c.sig, 128) || !hex(c.key, 64)) return undefined
  return { upTo: c.upTo, head: c.head as string, sig: c.sig as string, key: c.key as string }
}

/** Feed rows in seq order with push(); read the verdict with result(). */
export class ChainVerifier {
  private prev: string = GENESIS
  private seq = 0
  private n = 0
  private checkpoints = 0
  private signedUpTo = 0
  private broken: { at: number, reason: BreakReason } | undefined
  private readonly trustedHex: string

  /** `trustedKey`: the node's own Ed25519 public key. */
  constructor (private readonly trustedKey: Uint8Array) { this.trustedHex = toHex(trustedKey) }

  get isBroken (): boolean { return this.broken !== undefined }

  /** False once the chain is broken (later rows are not looked at). */
  push (r: ChainRow): boolean {
    if (this.broken !== undefined) return false
    this.n++
    if (r.seq !== this.seq + 1) return this.fail(this.seq + 1, 'gap')
    if (r.prev !== this.prev) return this.fail(r.seq, 'prev-mismatch')
    const h = entryHash(this.prev, r.seq, r.at, r.kind, r.data)
    if (h !== r.hash) return this.fail(r.seq, 'hash-mismatch')
    if (r.kind === 'checkpoint') {
      const why = this.checkpoint(r)
      if (why !== undefined) return this.fail(r.seq, why)
    }
    this.prev = h
    this.seq = r.seq
    return true
  }

  result (): ChainVerdict {
    const tail = { seq: this.seq, hash: this.prev }
    if (this.broken !== undefined) return { ok: false, entries: this.n, brokenAt: this.broken.at, reason: this.broken.reason, checkpoints: this.checkpoints, signedUpTo: this.signedUpTo, tail }
    return { ok: true, entries: this.n, checkpoints: this.checkpoints, signedUpTo: this.signedUpTo, tail }
  }

  private checkpoint (r: ChainRow): BreakReason | undefined {
    const d = parseCheckpoint(r.data)
    if (d === undefined || d.upTo !== r.seq - 1) return 'checkpoint-malformed'
    if (d.head !== this.prev) return 'checkpoint-mismatch'
    if (d.key !== this.trustedHex) return 'checkpoint-foreign-key'
    if (!verifySig(this.trustedKey, checkpointMessage(d.upTo, d.head), Buffer.from(d.sig, 'hex'))) return 'checkpoint-bad-signature'
    this.checkpoints++
    this.signedUpTo = d.upTo
    return undefined
  }

  private fail (at: number, reason: BreakReason): false {
    this.broken = { at, reason }
    return false
  }
}
