/**
 * The way in for record bytes, whatever their origin: every decode checks the
 * envelope (records/envelope.ts: size, canonical CBOR, header), the kind's body
 * shape (kinds.ts) and, unless the bytes are our own store's, the signature.
 *
 *   decodeRecord(bytes)         untrusted bytes → VerifiedRecord (throws IntegrityError)
 *   prepareRecord(bytes)        the same minus the signature, which the caller checks
 *     + withCheckedSignature()  elsewhere (the sync verifier's worker threads)
 *   fromStore(row, kind?)       bytes read back from this node's own store → DecodedRecord:
 *                               envelope and body checked, the signature verified when
 *                               they were stored and not again (reads that must resist
 *                               a rewritten store use decodeRecord, as items/ does)
 *
 * A failure carries its RejectReason-compatible cause in `details.reason`
 * (`malformed`, `too-large`, `bad-proof`, `bad-signature`); decodeFailure() reads it back.
 *
 * Batch-signed records (version 2, docs/RECORDS.md) go the same way: the path is
 * checked here (verifyInput), and the one signature check, verifyRecordSignature,
 * is the same on every thread: it verifies a batch's root once per thread.
 */
import { sha256 } from '../crypto/hash.js'
import { verifyRecordSignature } from './batch.js'
import { IntegrityError } from '../util/errors.js'
import { MAX_RECORD_BYTES, malformed, parseEnvelope, verifyInput, viewOf, type Body, type DecodedRecord, type SignedRecord, type VerifiedRecord } from './envelope.js'
import { isRecordKind, specOf, type BodyOf, type RecordKind } from './kinds.js'

export { signBatch, signRecord, type Body, type DecodedRecord, type SignedRecord, type VerifiedRecord } from './envelope.js'
export { MAX_BATCH_LEAVES, verifyRecordSignature } from './batch.js'
export type { BodyOf, RecordKind } from './kinds.js'

/** Why bytes did not decode into a record: the records layer's part of groups' RejectReason. */
export type DecodeFailure = 'malformed' | 'too-large' | 'bad-proof' | 'bad-signature'

function parseChecked (bytes: Uint8Array, maxBytes: number): SignedRecord {
  const rec = parseEnvelope(bytes, maxBytes, isRecordKind)
  const spec = specOf(rec.t)
  spec.check(rec.b)
  if (rec.v === 2 && spec.batchSigned?.(rec.b) !== true) throw malformed(`a batch-signed ${rec.t} record (only re-encrypted items may be)`)
  return rec
}

/** Decode and verify untrusted bytes: envelope, body by kind, then (the costly part) the signature. */
export function decodeRecord (bytes: Uint8Array, maxBytes = MAX_RECORD_BYTES): VerifiedRecord {
  const rec = parseChecked(bytes, maxBytes)
  if (!verifyRecordSignature(rec.s, verifyInput(rec, bytes), rec.x)) throw new IntegrityError('signature does not verify', { reason: 'bad-signature' })
  return viewOf(rec, bytes, sha256(bytes)) as VerifiedRecord
}

/** A record checked in every way but its signature (a v2 record's path included); `message` is what the signature covers. */
export interface PreparedRecord { readonly rec: SignedRecord, readonly bytes: Uint8Array, readonly message: Uint8Array }

/** decodeRecord without the signature check, for verifying signatures in bulk elsewhere. */
export function prepareRecord (bytes: Uint8Array, maxBytes = MAX_RECORD_BYTES): PreparedRecord {
  const rec = parseChecked(bytes, maxBytes)
  return { rec, bytes, message: verifyInput(rec, bytes) }
}

/** The caller verified `p.rec.x` over `p.message` under `p.rec.s` (a verifier worker said so). */
export function withCheckedSignature (p: PreparedRecord): VerifiedRecord {
  return viewOf(p.rec, p.bytes, sha256(p.bytes)) as VerifiedRecord
}

/**
 * A record read back from this node's own store (its hash is the stored one:
 * re-hashing every read doubled the cost of a read, measured on the
 * re-encryption path); with `kind`, also of that kind (else IntegrityError).
 */
export function fromStore<K extends RecordKind> (row: { bytes: Uint8Array, hash: Uint8Array }, kind: K): DecodedRecord<BodyOf<K>>
export function fromStore (row: { bytes: Uint8Array, hash: Uint8Array }): DecodedRecord
export function fromStore (row: { bytes: Uint8Array, hash: Uint8Array }, kind?: RecordKind): DecodedRecord<Body> {
  const rec = parseChecked(row.bytes, Number.MAX_SAFE_INTEGER)
  if (kind !== undefined && rec.t !== kind) throw malformed(`expected a ${kind} record, found ${rec.t}`)
  return viewOf(rec, row.bytes, row.hash)
}

/** The reason a decode failed, for counting (anything unexpected counts as `malformed`). */
export function decodeFailure (e: unknown): DecodeFailure {
  const r = e instanceof IntegrityError ? e.details?.reason : undefined
  return r === 'too-large' || r === 'bad-signature' || r === 'bad-proof' ? r : 'malformed'
}

/**
 * The body of a stored record as it is, for the uses that trust none of it:
 * replacing a damaged record by ID (a tombstone: the caller checks that the ID
 * still derives from what it reads) and listing what is held (raw listings).
 * No hash or signature check: never decrypt or act on what it returns.
 */
export function salvageBody<K extends RecordKind> (bytes: Uint8Array, kind: K): BodyOf<K> {
  const rec = parseChecked(bytes, Number.MAX_SAFE_INTEGER)
  if (rec.t !== kind) throw malformed(`expected a ${kind} record, found ${rec.t}`)
  return rec.b as BodyOf<K>
}

/** Narrow a record to one kind (keeps whatever else R says, e.g. that it is verified). */
export function hasKind<K extends RecordKind, R extends DecodedRecord> (r: R, kind: K): r is R & { readonly rec: SignedRecord<BodyOf<K>> } {
  return r.rec.t === kind
}
