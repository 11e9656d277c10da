/**
 * Audit checkpoint copies: a node's signed audit checkpoint, encrypted with
 * its entity's personal group key and replicated to that group's keepers, so a
 * local log cut short or rewritten by someone with disk access can be checked
 * against what the keepers hold (docs/AUDIT.md, "the keepers' copy").
 *
 * body = { kv, iv(12), ct }  (kind `audit-copy`, signed by the entity: only the owner
 *                              of the personal group may write one)
 * plaintext = JSON { peer, key, upTo, head, sig, at }, padded like item content:
 *   peer  the node's peer ID; key its Ed25519 public key (hex)
 *   upTo, head, sig  the checkpoint as the audit log holds it (chain.ts)
 *   at    when the checkpoint was written (Unix ms)
 * AES-256-GCM with AAD = CBOR { d: "cairn/audit-copy-aad/v1", g, id, c, s, kv }.
 *
 * The record ID is derived from the node key and the head it signs, so every
 * checkpoint is its own record: a later copy never replaces an earlier one (a
 * log that was cut and grew again cannot overwrite what the keepers saw).
 * Keepers learn only that a copy exists and its padded size.
 */
import { gcmDecrypt, gcmEncrypt } from '../crypto/aead.js'
import { encodeCanonical } from '../crypto/canonical.js'
import { fromHex, fromUtf8, utf8 } from '../crypto/bytes.js'
import { derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import { pad, unpad } from '../crypto/padding.js'
import type { SigningKey } from '../crypto/sign.js'
import { IntegrityError } from '../util/errors.js'
import { field, malformed, signRecord, type Body, type DecodedRecord, type VerifiedRecord } from './envelope.js'

export interface AuditCopyBody extends Body { kv: number, iv: Uint8Array, ct: Uint8Array }

/** What a copy holds once opened. */
export interface CopiedCheckpoint { peer: string, key: string, upTo: number, head: string, sig: string, at: number }

export const auditCopyId = (nodePublicKey: Uint8Array, head: string): RecordId => derivedId('audit-copy', nodePublicKey, fromHex(head))

export function checkAuditCopyBody (b: Body): AuditCopyBody {
  field.exact(b, ['kv', 'iv', 'ct'])
  field.uint(b, 'kv', 2 ** 31); field.bytes(b, 'iv', 12)
  if (field.bytes(b, 'ct').length < 16 + 256) throw malformed('audit copy ciphertext')
  return b as AuditCopyBody
}

const aad = (groupId: GroupId, recordId: RecordId, clock: Clock, signer: Uint8Array, kv: number): Uint8Array =>
  encodeCanonical({ d: 'cairn/audit-copy-aad/v1', g: uuidToBytes(groupId), id: uuidToBytes(recordId), c: clock, s: signer, kv })

export function sealAuditCopy (entity: SigningKey, groupId: GroupId, clock: Clock, kv: number, key: Uint8Array, c: CopiedCheckpoint): VerifiedRecord<AuditCopyBody> {
  const recordId = auditCopyId(fromHex(c.key), c.head)
  const { iv, ct } = gcmEncrypt(key, pad(utf8(JSON.stringify(c))), aad(groupId, recordId, clock, entity.publicKey, kv))
  return signRecord<AuditCopyBody>(entity, { t: 'audit-copy', groupId, recordId, clock, body: { kv, iv, ct } })
}

export function openAuditCopy (r: DecodedRecord<AuditCopyBody>, key: Uint8Array): CopiedCheckpoint {
  const b = r.rec.b
  const text = fromUtf8(unpad(gcmDecrypt(key, b.iv, b.ct, aad(r.groupId, r.recordId, r.rec.c, r.rec.s, b.kv))))
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new IntegrityError('audit copy plaintext is not JSON') }
  const c = v as Partial<CopiedCheckpoint>
  if (typeof c.peer !== 'string' || typeof c.key !== 'string' || typeof c.upTo !== 'number' || typeof c.head !== 'string' || typeof c.sig !== 'string' || typeof c.at !== 'number') {
    throw new IntegrityError('audit copy plaintext has the wrong shape')
  }
  if (auditCopyId(fromHex(c.key), c.head) !== r.recordId) throw new IntegrityError('audit copy is stored under another checkpoint\'s ID')
  return c as CopiedCheckpoint
}
