/**
 * The signed record envelope, internal to records/ (the import rules keep every
 * other module on record.ts, whose decodeRecord checks the body by kind too).
 *
 *   CBOR array [ 1, kind, group(16), id(16), clock, signer(32), body, sig(64) ]
 *
 * The signature is Ed25519 by the signer entity over
 *   "cairn/<kind>/v1" || 0x00 || CBOR array [ 1, kind, group, id, clock, signer, body ]
 * which is exactly the record's own bytes with the array header 0x88 → 0x87 and
 * the trailing signature cut off. So a receiver verifies a byte slice (no
 * re-encoding on the hot path), and since every byte but the signature is
 * signed and OpenSSL's Ed25519 rejects malleable signatures, one record has
 * exactly one byte string: its SHA-256 is a stable record hash (sync key, gossip
 * message ID, provenance link). Keepers verify every record without any key.
 * (SPEC §2 suggested signing a hash of the ciphertext instead; see docs/RECORDS.md.)
 *
 * Version 2 (signBatch: a rotation's re-encryptions) replaces the signature by
 *   proof = [ n, i, root(32), path: [hash(32)…], sig(64) ]
 * where sig is over the batch root (batch.ts) and the leaf is the same message
 * with version 2 in it; verifyInput() gives the message a signature must cover
 * after checking the path (docs/RECORDS.md, "Batch-signed records").
 *
 * Invariants: parseEnvelope() accepts only well-formed bytes of a kind name of
 * the right shape and checks no signature; nothing here decrypts.
 */
import { decodeBounded, encodeCanonical, STRICT_DECODE } from '../crypto/canonical.js'
import { concat, equalBytes, utf8 } from '../crypto/bytes.js'
import { sha256 } from '../crypto/hash.js'
import { sign, type SigningKey } from '../crypto/sign.js'
import { bytesToUuid, entityIdFromPublicKey, groupIdFromBytes, type EntityId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import { isClock, type Clock } from '../crypto/hlc.js'
import { IntegrityError } from '../util/errors.js'
import type { RecordKind } from './kinds.js'
import { leafHash, MAX_BATCH_LEAVES, MAX_PATH, merkle, rootFromPath, rootMessage } from './batch.js'

/** Hard cap on one encoded record (1 MiB content + headroom); configurable lower. */
export const MAX_RECORD_BYTES = 2 * 1024 * 1024

export type Body = Record<string, unknown>

/** A version-2 record's inclusion proof (its root signature is the record's `x`). */
export interface BatchProof { n: number, i: number, root: Uint8Array, path: Uint8Array[] }

export interface SignedRecord<B extends Body = Body> {
  /** 1: signed alone; 2: batch-signed, `pf` set. */
  v: 1 | 2
  t: RecordKind
  g: Uint8Array
  id: Uint8Array
  c: Clock
  s: Uint8Array
  b: B
  /** The signature: over the record (v1) or over its batch's root (v2). */
  x: Uint8Array
  pf?: BatchProof
}

/**
 * A decoded record with its exact bytes and hash, its body checked against its
 * kind. Says nothing about the signature: see VerifiedRecord.
 */
export interface DecodedRecord<B extends Body = Body> {
  readonly rec: SignedRecord<B>
  readonly bytes: Uint8Array
  readonly hash: Uint8Array
  readonly groupId: GroupId
  readonly recordId: RecordId
  readonly signer: EntityId
}

declare const verified: unique symbol
/**
 * A record whose signature was checked in this process (decodeRecord, or a
 * verifier worker) or that this process signed (signRecord). Only those make
 * one: it is what the Acceptor takes.
 */
export interface VerifiedRecord<B extends Body = Body> extends DecodedRecord<B> { readonly [verified]: true }

const SIG_TAIL = 66 // 0x58 0x40 + 64 signature bytes
const labels = new Map<string, Uint8Array>()
const labelOf = (t: string): Uint8Array => {
  let l = labels.get(t)
  if (l === undefined) { l = concat(utf8(`cairn/${t}/v1`), new Uint8Array([0])); labels.set(t, l) }
  return l
}

/** The message the signature covers (v1; v2: the leaf's message), taken straight from the record bytes. */
export function signedSlice (kind: string, bytes: Uint8Array, tail = SIG_TAIL): Uint8Array {
  const label = labelOf(kind)
  const n = bytes.length - tail
  const out = new Uint8Array(label.length + n)
  out.set(label, 0)
  out[label.length] = 0x87
  out.set(bytes.subarray(1, n), label.length + 1)
  return out
}

const uintBytes = (v: number): number => v < 24 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : 5
/** Encoded length of a (canonical) proof array: the record's tail after the body. */
const proofBytes = (p: BatchProof): number => 1 + uintBytes(p.n) + uintBytes(p.i) + 34 + uintBytes(p.path.length) + 34 * p.path.length + SIG_TAIL

/**
 * The message a record's signature `x` must verify over, under `s`: the record
 * slice (v1), or its batch's root message once the path from the record's own
 * leaf leads to the root it carries (v2; else IntegrityError `bad-proof`).
 */
export function verifyInput (rec: SignedRecord, bytes: Uint8Array): Uint8Array {
  const pf = rec.pf
  if (pf === undefined) return signedSlice(rec.t, bytes)
  const tail = proofBytes(pf)
  const leaf = leafHash(labelOf(rec.t), new Uint8Array([0x87]), bytes.subarray(1, bytes.length - tail))
  const root = rootFromPath(leaf, pf.i, pf.n, pf.path)
  if (root === undefined) throw new IntegrityError(`batch proof: a path of ${pf.path.length} hashes does not fit leaf ${pf.i} of ${pf.n}`, { reason: 'bad-proof' })
  if (!equalBytes(root, pf.root)) throw new IntegrityError('batch proof: the path does not lead to the root it names', { reason: 'bad-proof' })
  return rootMessage(rec.g, pf.n, pf.root)
}

export interface Unsigned<B extends Body> { t: RecordKind, groupId: GroupId, recordId: RecordId, clock: Clock, body: B }

/**
 * The record view over a parsed envelope; `signer` is derived on first use
 * (bech32 costs). `ids`: the group and record IDs of these very fields,
 * already derived (by a verifier worker) — not derived a second time.
 */
export function viewOf<B extends Body> (rec: SignedRecord<B>, bytes: Uint8Array, hash: Uint8Array, ids?: { groupId: GroupId, recordId: RecordId }): DecodedRecord<B> {
  let groupId: GroupId
  if (ids !== undefined) groupId = ids.groupId
  else try { groupId = groupIdFromBytes(rec.g) } catch { throw malformed('bad group') }
  const recordId = ids?.recordId ?? bytesToUuid(rec.id) as RecordId
  let signer: EntityId | undefined
  return { rec, bytes, hash, groupId, recordId, get signer () { return (signer ??= entityIdFromPublicKey(rec.s)) } }
}

export function signRecord<B extends Body> (key: SigningKey, u: Unsigned<B>): VerifiedRecord<B> {
  const g = uuidToBytes(u.groupId)
  const id = uuidToBytes(u.recordId)
  const unsigned = encodeCanonical([1, u.t, g, id, u.clock, key.publicKey, u.body])
  const x = sign(key, concat(labelOf(u.t), unsigned))
  const bytes = new Uint8Array(unsigned.length + SIG_TAIL)
  bytes.set(unsigned, 0)
  bytes[0] = 0x88
  bytes[unsigned.length] = 0x58
  bytes[unsigned.length + 1] = 0x40
  bytes.set(x, unsigned.length + 2)
  const rec: SignedRecord<B> = { v: 1, t: u.t, g, id, c: u.clock, s: key.publicKey, b: u.body, x }
  return viewOf(rec, bytes, sha256(bytes)) as VerifiedRecord<B>
}

/**
 * Sign records of one group as one batch (one Ed25519 signature over their
 * Merkle root); each record carries its path. Records/ decides which may be
 * (record.ts checks the kind on every decode).
 */
export function signBatch<B extends Body> (key: SigningKey, us: ReadonlyArray<Unsigned<B>>): Array<VerifiedRecord<B>> {
  return sealBatch(key, us, batchLeaves(key.publicKey, us))
}

/** What signBatch works out per record before its one signature: each record's unsigned encoding and leaf hash. */
export interface BatchLeaves { signer: Uint8Array, unsigned: Uint8Array[], leaves: Uint8Array[] }

/**
 * signBatch's work per record, which needs only the signer's public key (a
 * worker thread may do it: groups/reencrypt-thread.ts): `us` encoded as they
 * will be signed, and their leaf hashes.
 */
export function batchLeaves<B extends Body> (signer: Uint8Array, us: ReadonlyArray<Unsigned<B>>): BatchLeaves {
  if (us.length > MAX_BATCH_LEAVES) throw new RangeError(`a batch holds at most ${MAX_BATCH_LEAVES} records`)
  const g = us.length === 0 ? new Uint8Array(16) : uuidToBytes(us[0]!.groupId)
  const unsigned = us.map(u => {
    if (u.groupId !== us[0]!.groupId) throw new RangeError('a batch is of one group')
    return encodeCanonical([2, u.t, g, uuidToBytes(u.recordId), u.clock, signer, u.body])
  })
  return { signer, unsigned, leaves: unsigned.map((b, k) => leafHash(labelOf(us[k]!.t), b)) }
}

/** The rest of signBatch, given `us`' batchLeaves under `key`'s public key: the root signed, each record's proof appended. */
export function sealBatch<B extends Body> (key: SigningKey, us: ReadonlyArray<Unsigned<B>>, { signer, unsigned, leaves }: BatchLeaves): Array<VerifiedRecord<B>> {
  if (us.length === 0) return []
  if (unsigned.length !== us.length || leaves.length !== us.length) throw new RangeError('a batch\'s leaves are one per record')
  if (!equalBytes(signer, key.publicKey)) throw new RangeError('a batch\'s leaves name another signer')
  const g = uuidToBytes(us[0]!.groupId)
  const { root, paths } = merkle(leaves)
  const n = us.length
  const x = sign(key, rootMessage(g, n, root))
  return us.map((u, i) => {
    const tail = encodeCanonical([n, i, root, paths[i]!, x])
    const bytes = concat(unsigned[i]!, tail)
    bytes[0] = 0x88
    const rec: SignedRecord<B> = { v: 2, t: u.t, g, id: uuidToBytes(u.recordId), c: u.clock, s: key.publicKey, b: u.body, x, pf: { n, i, root, path: paths[i]! } }
    return viewOf(rec, bytes, sha256(bytes)) as VerifiedRecord<B>
  })
}

const isBytes = (v: unknown, len?: number): v is Uint8Array => v instanceof Uint8Array && (len === undefined || v.length === len)

/** Size, canonical CBOR, header fields. `isKind` is the kind table's membership test (kinds.ts). */
export function parseEnvelope (bytes: Uint8Array, maxBytes: number, isKind: (t: string) => t is RecordKind): SignedRecord {
  if (bytes.length > maxBytes) throw new IntegrityError(`record is ${bytes.length} bytes; the limit is ${maxBytes}`, { reason: 'too-large' })
  if (bytes.length < 100 || bytes[0] !== 0x88 || bytes[bytes.length - SIG_TAIL] !== 0x58 || bytes[bytes.length - SIG_TAIL + 1] !== 0x40) throw malformed('not a record')
  let a: unknown
  try { a = decodeBounded(bytes, STRICT_DECODE) } catch (e) { throw malformed((e as Error).message) }
  if (!Array.isArray(a) || a.length !== 8) throw malformed('not a record')
  const [v, t, g, id, c, s, b, last] = a as [unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown]
  if (v !== 1 && v !== 2) throw malformed('unknown version')
  if (typeof t !== 'string' || !isKind(t)) throw malformed('unknown kind')
  if (!isBytes(g, 16) || !isBytes(id, 16) || !isBytes(s, 32)) throw malformed('bad header field')
  if (!isClock(c)) throw malformed('bad clock')
  if (b === null || typeof b !== 'object' || Array.isArray(b) || b instanceof Uint8Array) throw malformed('bad body')
  if (v === 1) {
    if (!isBytes(last, 64)) throw malformed('bad header field')
    return { v: 1, t, g, id, c, s, b: b as Body, x: last }
  }
  const { pf, x } = parseProof(last)
  return { v: 2, t, g, id, c, s, b: b as Body, x, pf }
}

/** Shape and bounds of a v2 proof; whether it holds is verifyInput's (bad-proof). */
function parseProof (p: unknown): { pf: BatchProof, x: Uint8Array } {
  if (!Array.isArray(p) || p.length !== 5) throw malformed('bad batch proof')
  const [n, i, root, path, x] = p as [unknown, unknown, unknown, unknown, unknown]
  const count = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max
  if (!count(n, MAX_BATCH_LEAVES) || n < 1 || !count(i, MAX_BATCH_LEAVES - 1) || !isBytes(root, 32) || !isBytes(x, 64)) throw malformed('bad batch proof')
  if (!Array.isArray(path) || path.length > MAX_PATH || !path.every(h => isBytes(h, 32))) throw malformed('bad batch proof path')
  return { pf: { n, i, root, path: path as Uint8Array[] }, x }
}

export function malformed (what: string): IntegrityError {
  return new IntegrityError(`malformed record: ${what}`, { reason: 'malformed' })
}

/** Shape checks for bodies, used by each kind's `check…` function. */
export const field = {
  bytes (b: Body, k: string, len?: number): Uint8Array {
    const v = b[k]
    if (!isBytes(v, len)) throw malformed(`field ${k}`)
    return v
  },
  uint (b: Body, k: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = b[k]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw malformed(`field ${k}`)
    return v
  },
  bool (b: Body, k: string): boolean {
    const v = b[k]
    if (typeof v !== 'boolean') throw malformed(`field ${k}`)
    return v
  },
  str (b: Body, k: string, max = 256): string {
    const v = b[k]
    if (typeof v !== 'string' || v.length > max) throw malformed(`field ${k}`)
    return v
  },
  exact (b: Body, allowed: readonly string[], optional: readonly string[] = []): void {
    for (const k of Object.keys(b)) if (!allowed.includes(k) && !optional.includes(k)) throw malformed(`unexpected field ${k}`)
    for (const k of allowed) if (!(k in b)) throw malformed(`missing field ${k}`)
  }
}
