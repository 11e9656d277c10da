/**
 * Item records: one version of a JSON document, encrypted with the group key.
 *
 * body = { a: author(32), n: nonce(16), kv: keyVersion, del: tombstone, iv(12), ct, p: prev hash | empty }
 *
 * - The item ID is derived from (author, nonce): nobody but the author can mint
 *   versions of an item in another author's name, and IDs never collide across authors.
 * - Plaintext is JSON {type, content, meta, createdAt, src?}, padded to a size bucket,
 *   sealed with AES-256-GCM; the AAD binds the whole clear header (including the
 *   signer and tombstone flag), so no header field can be changed or moved.
 * - A tombstone has empty iv/ct: deletion leaves nothing to decrypt.
 * - `signer` (record header) may differ from `author` only for owner/admin edits and
 *   re-encryption after rotation (checked by the acceptance gates).
 */
import { gcmDecrypt, gcmEncrypt } from '../crypto/aead.js'
import { encodeCanonical } from '../crypto/canonical.js'
import { fromUtf8, utf8 } from '../crypto/bytes.js'
import { randomBytes, sha256 } from '../crypto/hash.js'
import { pad, unpad } from '../crypto/padding.js'
import { derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { structureViolation } from '../util/bounds.js'
import { IntegrityError } from '../util/errors.js'
import { field, malformed, signRecord, type Body, type DecodedRecord, type VerifiedRecord } from './envelope.js'

export interface ItemBody extends Body {
  a: Uint8Array
  n: Uint8Array
  kv: number
  del: boolean
  iv: Uint8Array
  ct: Uint8Array
  p: Uint8Array
}

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json }

export interface ItemPlain {
  type: string
  content: Json
  meta: { [k: string]: Json } | null
  /** Clock of the first version (creation time). */
  createdAt: Clock
  /** Set when the item was copied from another group (copy-on-write share). */
  src?: { group: string, item: string, hash: string }
  /**
   * Set when the item was imported from an export (items/portability.ts): the exported
   * item it came from, its author, and the provenance it had there (entries whose
   * hashes and signatures refer to records of the source group, not of this one).
   */
  imp?: ImportedFrom
}

export interface ImportedFrom {
  group: string, item: string, hash: string, author: string
  prov: Array<{ action: string, by: string, at: string, hash: string, signature: string, keyVersion: number, source?: { groupId: string, itemId: string, hash: string } }>
}

export const itemIdFor = (author: Uint8Array, nonce: Uint8Array): RecordId => derivedId('item', author, nonce)

export function checkItemBody (b: Body): ItemBody {
  field.exact(b, ['a', 'n', 'kv', 'del', 'iv', 'ct', 'p'])
  field.bytes(b, 'a', 32); field.bytes(b, 'n', 16); field.uint(b, 'kv', 2 ** 31)
  const del = field.bool(b, 'del')
  const iv = field.bytes(b, 'iv'); const ct = field.bytes(b, 'ct'); const p = field.bytes(b, 'p')
  if (del ? (iv.length !== 0 || ct.length !== 0) : (iv.length !== 12 || ct.length < 16 + 256)) throw malformed('item ciphertext')
  if (p.length !== 0 && p.length !== 32) throw malformed('item prev')
  return b as ItemBody
}

/** The clear header bound into the AEAD: every field a keeper can see. */
function itemAad (groupId: GroupId, recordId: RecordId, clock: Clock, signer: Uint8Array, b: Omit<ItemBody, 'iv' | 'ct'>): Uint8Array {
  return encodeCanonical({ d: 'cairn/item-aad/v1', g: uuidToBytes(groupId), id: uuidToBytes(recordId), c: clock, s: signer, a: b.a, n: b.n, kv: b.kv, del: b.del, p: b.p })
}

export interface SealItemInput {
  signer: SigningKey
  groupId: GroupId
  clock: Clock
  keyVersion: number
  key: Uint8Array
  /** Omit to create a new item (author = signer). */
  existing?: { author: Uint8Array, nonce: Uint8Array, prevHash: Uint8Array }
  plain: ItemPlain | null
}

export function sealItem (inp: SealItemInput): VerifiedRecord<ItemBody> {
  const a = inp.existing?.author ?? inp.signer.publicKey
  const n = inp.existing?.nonce ?? randomBytes(16)
  const recordId = itemIdFor(a, n)
  const head = { a, n, kv: inp.keyVersion, del: inp.plain === null, p: inp.existing?.prevHash ?? new Uint8Array(0) }
  let iv: Uint8Array = new Uint8Array(0)
  let ct: Uint8Array = new Uint8Array(0)
  if (inp.plain !== null) {
    const sealed = gcmEncrypt(inp.key, pad(utf8(JSON.stringify(inp.plain))), itemAad(inp.groupId, recordId, inp.clock, inp.signer.publicKey, head))
    iv = sealed.iv; ct = sealed.ct
  }
  return signRecord<ItemBody>(inp.signer, { t: 'item', groupId: inp.groupId, recordId, clock: inp.clock, body: { ...head, iv, ct } })
}

/** Re-encrypt one version under a new key: same ID, clock and author; signer = re-encryptor. */
export function reencryptItem (r: DecodedRecord<ItemBody>, oldKey: Uint8Array, signer: SigningKey, newKeyVersion: number, newKey: Uint8Array): VerifiedRecord<ItemBody> {
  const b = r.rec.b
  // The padded plaintext moves as-is: same bucket, no parse/serialise round trip.
  const padded = gcmDecrypt(oldKey, b.iv, b.ct, itemAad(r.groupId, r.recordId, r.rec.c, r.rec.s, b))
  const head = { a: b.a, n: b.n, kv: newKeyVersion, del: false, p: r.hash }
  const sealed = gcmEncrypt(newKey, padded, itemAad(r.groupId, r.recordId, r.rec.c, signer.publicKey, head))
  padded.fill(0)
  return signRecord<ItemBody>(signer, { t: 'item', groupId: r.groupId, recordId: r.recordId, clock: r.rec.c, body: { ...head, iv: sealed.iv, ct: sealed.ct } })
}

export function openItemBytes (r: DecodedRecord<ItemBody>, key: Uint8Array): Uint8Array {
  const b = r.rec.b
  if (b.del) throw new IntegrityError('item is deleted')
  const aad = itemAad(r.groupId, r.recordId, r.rec.c, r.rec.s, b)
  return unpad(gcmDecrypt(key, b.iv, b.ct, aad))
}

export function openItem (r: DecodedRecord<ItemBody>, key: Uint8Array): ItemPlain {
  const bytes = openItemBytes(r, key)
  let v: ItemPlain
  try { v = JSON.parse(fromUtf8(bytes)) as ItemPlain } catch { throw new IntegrityError('item plaintext is not valid JSON') }
  if (v === null || typeof v !== 'object' || typeof v.type !== 'string' || typeof v.createdAt !== 'number') throw new IntegrityError('item plaintext has the wrong shape')
  // Another member wrote it: no cairn node writes a deeper document, and reading
  // one (JSON.stringify, search) would recurse past the stack.
  const deep = structureViolation(v)
  if (deep !== undefined) throw new IntegrityError(`item plaintext is ${deep}`)
  return v
}

/** Hex SHA-256 of the plaintext document: what `contentHash` reports. */
export const contentHashOf = (plain: ItemPlain): string => Buffer.from(sha256(utf8(JSON.stringify(plain)))).toString('hex')
