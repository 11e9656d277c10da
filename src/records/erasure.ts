/**
 * Erasure reports (docs/MEMBERSHIP.md, "Erasure that reaches copies"): what a
 * node did with the copies it holds of an item deleted in this group.
 *
 * body = { i: source item ID(16), kv, iv(12), ct }
 *   id = derived("erasure", group, item, reporter): one report per reporter and
 *   item (a later one replaces it). The report itself — per copy: its group, its
 *   item, what was done and why — is JSON sealed with the group key of `kv`
 *   (AES-256-GCM, the clear header as AAD), so only members read which other
 *   groups held a copy. Signed by the reporting member.
 */
import { gcmDecrypt, gcmEncrypt } from '../crypto/aead.js'
import { encodeCanonical } from '../crypto/canonical.js'
import { fromUtf8, utf8 } from '../crypto/bytes.js'
import { bytesToUuid, derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { IntegrityError } from '../util/errors.js'
import { field, malformed, signRecord, type Body, type DecodedRecord, type VerifiedRecord } from './envelope.js'

export interface ErasureBody extends Body { i: Uint8Array, kv: number, iv: Uint8Array, ct: Uint8Array }

export type CopyAction = 'deleted' | 'already-deleted' | 'refused'
export interface CopyOutcome { groupId: GroupId, itemId: string, action: CopyAction, reason?: string }
export interface ErasureReport { copies: CopyOutcome[] }

export const erasureId = (groupId: GroupId, item: string, reporter: Uint8Array): RecordId => derivedId('erasure', uuidToBytes(groupId), uuidToBytes(item), reporter)

export function checkErasureBody (b: Body): ErasureBody {
  field.exact(b, ['i', 'kv', 'iv', 'ct'])
  field.bytes(b, 'i', 16); field.uint(b, 'kv', 2 ** 31); field.bytes(b, 'iv', 12)
  const ct = field.bytes(b, 'ct')
  if (ct.length < 16 || ct.length > 64 * 1024) throw malformed('erasure report')
  return b as ErasureBody
}

const aad = (groupId: GroupId, item: Uint8Array, signer: Uint8Array, kv: number): Uint8Array =>
  encodeCanonical({ d: 'cairn/erasure-report/v1', g: uuidToBytes(groupId), i: item, s: signer, kv })

export function signErasureReport (key: SigningKey, groupId: GroupId, clock: Clock, item: string, kv: number, groupKey: Uint8Array, report: ErasureReport): VerifiedRecord<ErasureBody> {
  const i = uuidToBytes(item)
  const sealed = gcmEncrypt(groupKey, utf8(JSON.stringify(report)), aad(groupId, i, key.publicKey, kv))
  return signRecord<ErasureBody>(key, { t: 'erasure', groupId, recordId: erasureId(groupId, item, key.publicKey), clock, body: { i, kv, iv: sealed.iv, ct: sealed.ct } })
}

export function openErasureReport (r: DecodedRecord<ErasureBody>, groupKey: Uint8Array): ErasureReport {
  const b = r.rec.b
  let v: ErasureReport
  try { v = JSON.parse(fromUtf8(gcmDecrypt(groupKey, b.iv, b.ct, aad(r.groupId, b.i, r.rec.s, b.kv)))) as ErasureReport } catch { throw new IntegrityError('erasure report does not open') }
  if (!Array.isArray(v?.copies)) throw new IntegrityError('erasure report has the wrong shape')
  return v
}

export const reportedItem = (b: ErasureBody): string => bytesToUuid(b.i)
