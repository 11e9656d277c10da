/**
 * Share envelopes: circle share i (one key version) wrapped for member i.
 * body = { kv, sv, to: recipient(32), x: share index, epk(32), nonce(24), ct }
 * `sv` is the descriptor version whose commitments this share matches: a circle
 * is re-split when a member is added, and shares of different splits never combine.
 * The holder opens its own envelope only to re-wrap the share for a requester
 * (circles/share-protocol.ts); no node ever holds K shares at rest.
 */
import { encodeCanonical } from '../crypto/canonical.js'
import { unwrapWith, wrapFor } from '../crypto/keywrap.js'
import { derivedId, type GroupId, type RecordId, u32, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { field, signRecord, type Body, type DecodedRecord, type VerifiedRecord } from './envelope.js'

export interface ShareBody extends Body { kv: number, sv: number, to: Uint8Array, x: number, epk: Uint8Array, nonce: Uint8Array, ct: Uint8Array }

export const shareEnvelopeId = (groupId: GroupId, kv: number, to: Uint8Array): RecordId => derivedId('share', uuidToBytes(groupId), u32(kv), to)

export function checkShareBody (b: Body): ShareBody {
  field.exact(b, ['kv', 'sv', 'to', 'x', 'epk', 'nonce', 'ct'])
  field.uint(b, 'kv', 2 ** 31); field.uint(b, 'sv', 2 ** 31); field.bytes(b, 'to', 32); field.uint(b, 'x', 255); field.bytes(b, 'epk', 32); field.bytes(b, 'nonce', 24)
  field.bytes(b, 'ct')
  return b as ShareBody
}

export const shareInfo = (groupId: GroupId, kv: number, to: Uint8Array, x: number): Uint8Array =>
  encodeCanonical({ d: 'cairn/circle-share/v1', g: uuidToBytes(groupId), kv, to, x })

export function sealShareEnvelope (signer: SigningKey, groupId: GroupId, clock: Clock, kv: number, sv: number, to: Uint8Array, x: number, share: Uint8Array): VerifiedRecord<ShareBody> {
  const w = wrapFor(to, share, shareInfo(groupId, kv, to, x))
  return signRecord<ShareBody>(signer, { t: 'share', groupId, recordId: shareEnvelopeId(groupId, kv, to), clock, body: { kv, sv, to, x, epk: w.epk, nonce: w.nonce, ct: w.ct } })
}

export function openShareEnvelope (r: DecodedRecord<ShareBody>, mySeed: Uint8Array, myPub: Uint8Array): Uint8Array {
  const b = r.rec.b
  return unwrapWith(mySeed, myPub, { epk: b.epk, nonce: b.nonce, ct: b.ct }, shareInfo(r.groupId, b.kv, b.to, b.x))
}
