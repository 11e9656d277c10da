/**
 * Key envelopes: a group key (one version) wrapped for one member entity.
 * body = { kv, to: recipient(32), epk(32), nonce(24), ct }
 * They replicate as records of the group, so a member's new device or a newly
 * added member receives its keys through ordinary sync. Keepers store them and
 * can open none of them.
 */
import { encodeCanonical } from '../crypto/canonical.js'
import { unwrapWith, wrapFor } from '../crypto/keywrap.js'
import { derivedId, type GroupId, type RecordId, u32, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { IntegrityError } from '../util/errors.js'
import { field, signRecord, type Body, type DecodedRecord, type VerifiedRecord } from './envelope.js'

export interface KeyBody extends Body { kv: number, to: Uint8Array, epk: Uint8Array, nonce: Uint8Array, ct: Uint8Array }

export const keyEnvelopeId = (groupId: GroupId, kv: number, to: Uint8Array): RecordId => derivedId('key', uuidToBytes(groupId), u32(kv), to)

export function checkKeyBody (b: Body): KeyBody {
  field.exact(b, ['kv', 'to', 'epk', 'nonce', 'ct'])
  field.uint(b, 'kv', 2 ** 31); field.bytes(b, 'to', 32); field.bytes(b, 'epk', 32); field.bytes(b, 'nonce', 24)
  const ct = field.bytes(b, 'ct')
  if (ct.length !== 32 + 16) throw new IntegrityError('key envelope ciphertext has the wrong length', { reason: 'malformed' })
  return b as KeyBody
}

const info = (groupId: GroupId, kv: number, to: Uint8Array): Uint8Array =>
  encodeCanonical({ d: 'cairn/group-key/v1', g: uuidToBytes(groupId), kv, to })

export function sealKeyEnvelope (signer: SigningKey, groupId: GroupId, clock: Clock, kv: number, to: Uint8Array, groupKey: Uint8Array): VerifiedRecord<KeyBody> {
  const w = wrapFor(to, groupKey, info(groupId, kv, to))
  return signRecord<KeyBody>(signer, { t: 'key', groupId, recordId: keyEnvelopeId(groupId, kv, to), clock, body: { kv, to, epk: w.epk, nonce: w.nonce, ct: w.ct } })
}

export function openKeyEnvelope (r: DecodedRecord<KeyBody>, mySeed: Uint8Array, myPub: Uint8Array): Uint8Array {
  const b = r.rec.b
  return unwrapWith(mySeed, myPub, { epk: b.epk, nonce: b.nonce, ct: b.ct }, info(r.groupId, b.kv, b.to))
}
