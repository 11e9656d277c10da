/**
 * The signed record: the one envelope that is stored, pushed and synced.
 *
 *   { v: 1, t: kind, g: group(16), id: record(16), c: clock, s: signer(32), b: body, x: sig(64) }
 *
 * Encoded as deterministic CBOR; its SHA-256 is the record hash (sync key, gossip
 * message ID, provenance link). The signature is Ed25519 by the signer entity over
 *   "cairn/<kind>/v1" || 0x00 || CBOR({v,t,g,id,c,s,b'})
 * where b' is the body with a `ct` field replaced by `ch` = SHA-256(ct), so a
 * keeper verifies every record without any key, and the header cannot be moved
 * onto other ciphertext.
 *
 * Invariants: decode() accepts only canonical bytes within size limits whose
 * shape matches the kind; nothing here decrypts.
 */
import { decodeCanonical, encodeCanonical } from '../crypto/canonical.js'
import { sha256 } from '../crypto/hash.js'
import { sign, signedMessage, verify, type SigningKey } from '../crypto/sign.js'
import { bytesToUuid, entityIdFromPublicKey, type EntityId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import { isClock, type Clock } from '../crypto/hlc.js'
import { IntegrityError } from '../util/errors.js'

export const RECORD_KINDS = ['item', 'desc', 'key', 'share', 'bind', 'vault'] as const
export type RecordKind = typeof RECORD_KINDS[number]

/** Hard cap on one encoded record (1 MiB content + headroom); configurable lower. */
export const MAX_RECORD_BYTES = 2 * 1024 * 1024

export type Body = Record<string, unknown>

export interface SignedRecord<B extends Body = Body> {
  v: 1
  t: RecordKind
  g: Uint8Array
  id: Uint8Array
  c: Clock
  s: Uint8Array
  b: B
  x: Uint8Array
}

/** A decoded, signature-checked record with its canonical bytes and hash. */
export interface VerifiedRecord<B extends Body = Body> {
  readonly rec: SignedRecord<B>
  readonly bytes: Uint8Array
  readonly hash: Uint8Array
  readonly groupId: GroupId
  readonly recordId: RecordId
  readonly signer: EntityId
}

function signingBytes (r: Omit<SignedRecord, 'x'>): Uint8Array {
  let b: Body = r.b
  if (b.ct instanceof Uint8Array) {
    const { ct, ...rest } = b
    b = { ...rest, ch: sha256(ct as Uint8Array) }
  }
  return signedMessage(`cairn/${r.t}/v1`, encodeCanonical({ v: r.v, t: r.t, g: r.g, id: r.id, c: r.c, s: r.s, b }))
}

export interface Unsigned<B extends Body> { t: RecordKind, groupId: GroupId, recordId: RecordId, clock: Clock, body: B }

export function signRecord<B extends Body> (key: SigningKey, u: Unsigned<B>): VerifiedRecord<B> {
  const base = { v: 1 as const, t: u.t, g: uuidToBytes(u.groupId), id: uuidToBytes(u.recordId), c: u.clock, s: key.publicKey, b: u.body }
  const x = sign(key, signingBytes(base))
  const rec: SignedRecord<B> = { ...base, x }
  const bytes = encodeCanonical(rec)
  return { rec, bytes, hash: sha256(bytes), groupId: u.groupId, recordId: u.recordId, signer: entityIdFromPublicKey(key.publicKey) }
}

const isBytes = (v: unknown, len?: number): v is Uint8Array => v instanceof Uint8Array && (len === undefined || v.length === len)

/**
 * Decode and verify untrusted bytes. Throws IntegrityError with a short reason
 * (`malformed`, `too-large`, `bad-signature`) in `details.reason`.
 */
export function decodeRecord (bytes: Uint8Array, maxBytes = MAX_RECORD_BYTES): VerifiedRecord {
  if (bytes.length > maxBytes) throw new IntegrityError(`record is ${bytes.length} bytes; the limit is ${maxBytes}`, { reason: 'too-large' })
  const v = decodeCanonical(bytes) as Partial<SignedRecord> | null
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw malformed('not a map')
  const keys = Object.keys(v)
  if (keys.length !== 8) throw malformed('unexpected fields')
  if (v.v !== 1) throw malformed('unknown version')
  if (typeof v.t !== 'string' || !(RECORD_KINDS as readonly string[]).includes(v.t)) throw malformed('unknown kind')
  if (!isBytes(v.g, 16) || !isBytes(v.id, 16) || !isBytes(v.s, 32) || !isBytes(v.x, 64)) throw malformed('bad header field')
  if (!isClock(v.c)) throw malformed('bad clock')
  if (v.b === null || typeof v.b !== 'object' || Array.isArray(v.b) || v.b instanceof Uint8Array) throw malformed('bad body')
  const rec = v as SignedRecord
  if (!verify(rec.s, signingBytes(rec), rec.x)) throw new IntegrityError('signature does not verify', { reason: 'bad-signature' })
  let groupId: GroupId
  try { groupId = bytesToUuid(rec.g) as GroupId } catch { throw malformed('bad group') }
  return { rec, bytes, hash: sha256(bytes), groupId, recordId: bytesToUuid(rec.id) as RecordId, signer: entityIdFromPublicKey(rec.s) }
}

export function malformed (what: string): IntegrityError {
  return new IntegrityError(`malformed record: ${what}`, { reason: 'malformed' })
}

/** Re-wrap stored bytes that were verified when they arrived (no signature check). */
export function trustedRecord (bytes: Uint8Array, hash: Uint8Array): VerifiedRecord {
  const rec = decodeCanonical(bytes) as SignedRecord
  return { rec, bytes, hash, groupId: bytesToUuid(rec.g) as GroupId, recordId: bytesToUuid(rec.id) as RecordId, signer: entityIdFromPublicKey(rec.s) }
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
