/**
 * Item records: one version of a JSON document, encrypted with the group key.
 *
 * body = { a: author(32), n: nonce(16), kv: keyVersion, del: tombstone, iv(12), ct, p: prev hash | empty, l?: link }
 *
 * - The item ID is derived from (author, nonce): nobody but the author can mint
 *   versions of an item in another author's name, and IDs never collide across authors.
 * - Plaintext is JSON {type, content, meta, createdAt, src?}, padded to a size bucket,
 *   sealed with AES-256-GCM; the AAD binds the whole clear header (including the
 *   signer and tombstone flag), so no header field can be changed or moved.
 * - A tombstone has empty iv/ct: deletion leaves nothing to decrypt.
 * - `signer` (record header) may differ from `author` only for owner/admin edits and
 *   re-encryption after rotation (checked by the acceptance gates).
 * - `l` (entries of append-only groups, ao-link.ts): the DAG link. Its plaintext
 *   is salt(32) || JSON, so the clear content commitment reveals nothing; reads
 *   check the commitment, so a re-encryptor cannot swap the words.
 */
import { gcmDecrypt, gcmEncrypt } from '../crypto/aead.js'
import { encodeCanonical } from '../crypto/canonical.js'
import { concat, equalBytes, fromUtf8, utf8 } from '../crypto/bytes.js'
import { randomBytes, sha256 } from '../crypto/hash.js'
import { pad, unpad } from '../crypto/padding.js'
import { derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { structureViolation } from '../util/bounds.js'
import { IntegrityError } from '../util/errors.js'
import { field, malformed, signBatch, signRecord, type Body, type DecodedRecord, type Unsigned, type VerifiedRecord } from './envelope.js'
import { SALT_BYTES, checkLinkBody, contentCommitment, entryCommitment, makeLink, sameLink, type LinkBody, type LinkInput } from './ao-link.js'

export interface ItemBody extends Body {
  a: Uint8Array
  n: Uint8Array
  kv: number
  del: boolean
  iv: Uint8Array
  ct: Uint8Array
  p: Uint8Array
  l?: LinkBody
}

/** The clear fields of an item body other than its ciphertext. */
type ItemHead = Pick<ItemBody, 'a' | 'n' | 'kv' | 'del' | 'p' | 'l'>

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
  field.exact(b, ['a', 'n', 'kv', 'del', 'iv', 'ct', 'p'], ['l'])
  field.bytes(b, 'a', 32); field.bytes(b, 'n', 16); field.uint(b, 'kv', 2 ** 31)
  const del = field.bool(b, 'del')
  const iv = field.bytes(b, 'iv'); const ct = field.bytes(b, 'ct'); const p = field.bytes(b, 'p')
  if (del ? (iv.length !== 0 || ct.length !== 0) : (iv.length !== 12 || ct.length < 16 + 256)) throw malformed('item ciphertext')
  if (p.length !== 0 && p.length !== 32) throw malformed('item prev')
  if (b.l !== undefined) {
    checkLinkBody(b.l)
    if (del) throw malformed('a linked entry is never a tombstone')
  }
  return b as ItemBody
}

/** The clear header bound into the AEAD: every field a keeper can see. */
function itemAad (groupId: GroupId, recordId: RecordId, clock: Clock, signer: Uint8Array, b: ItemHead): Uint8Array {
  return encodeCanonical({ d: 'cairn/item-aad/v1', g: uuidToBytes(groupId), id: uuidToBytes(recordId), c: clock, s: signer, a: b.a, n: b.n, kv: b.kv, del: b.del, p: b.p, ...(b.l !== undefined ? { l: b.l } : {}) })
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
  /** A new entry of an append-only group: the heads it saw (and what it corrects or redacts). */
  link?: LinkInput
  /** Fixed randomness, for the byte-for-byte test vectors only. */
  fixed?: { nonce: Uint8Array, iv: Uint8Array, salt: Uint8Array }
}

export function sealItem (inp: SealItemInput): VerifiedRecord<ItemBody> {
  return signRecord<ItemBody>(inp.signer, sealItemUnsigned(inp))
}

/** sealItem before its signature (`inp.signer` is the signer it will have: the AAD and an entry's link name it). */
export function sealItemUnsigned (inp: SealItemInput): Unsigned<ItemBody> {
  const a = inp.existing?.author ?? inp.signer.publicKey
  const n = inp.existing?.nonce ?? inp.fixed?.nonce ?? randomBytes(16)
  const recordId = itemIdFor(a, n)
  const head: ItemHead = { a, n, kv: inp.keyVersion, del: inp.plain === null, p: inp.existing?.prevHash ?? new Uint8Array(0) }
  let iv: Uint8Array = new Uint8Array(0)
  let ct: Uint8Array = new Uint8Array(0)
  if (inp.plain !== null) {
    let doc = utf8(JSON.stringify(inp.plain))
    if (inp.link !== undefined) {
      if (inp.existing !== undefined) throw new RangeError('an append-only entry is never replaced')
      const salt = inp.fixed?.salt ?? randomBytes(SALT_BYTES)
      head.l = makeLink(inp.signer, { groupId: inp.groupId, recordId, author: a, clock: inp.clock }, inp.link, salt, doc)
      doc = concat(salt, doc)
    }
    const sealed = gcmEncrypt(inp.key, pad(doc), itemAad(inp.groupId, recordId, inp.clock, inp.signer.publicKey, head), inp.fixed?.iv)
    iv = sealed.iv; ct = sealed.ct
  }
  return { t: 'item', groupId: inp.groupId, recordId, clock: inp.clock, body: { ...head, iv, ct } }
}

/** Re-encrypt one version under a new key: same ID, clock and author; signer = re-encryptor. */
export function reencryptItem (r: DecodedRecord<ItemBody>, oldKey: Uint8Array, signer: SigningKey, newKeyVersion: number, newKey: Uint8Array): VerifiedRecord<ItemBody> {
  return signRecord<ItemBody>(signer, reencrypted(r, oldKey, signer.publicKey, newKeyVersion, newKey))
}

/**
 * reencryptItem for a rotation's job step: the same records, signed as one
 * batch (one signature over their Merkle root, envelope.ts signBatch), at most
 * MAX_BATCH_LEAVES. `oldKeyOf` gives the key of each record's own key version.
 */
export function reencryptItems (rs: ReadonlyArray<DecodedRecord<ItemBody>>, oldKeyOf: (kv: number) => Uint8Array, signer: SigningKey, newKeyVersion: number, newKey: Uint8Array): Array<VerifiedRecord<ItemBody>> {
  return signBatch<ItemBody>(signer, reencryptUnsigned(rs, oldKeyOf, signer.publicKey, newKeyVersion, newKey))
}

/** reencryptItems' records before they are signed, for `signer` (a public key): the part a worker thread may do (groups/reencrypt-thread.ts). */
export function reencryptUnsigned (rs: ReadonlyArray<DecodedRecord<ItemBody>>, oldKeyOf: (kv: number) => Uint8Array, signer: Uint8Array, newKeyVersion: number, newKey: Uint8Array): Array<Unsigned<ItemBody>> {
  return rs.map(r => reencrypted(r, oldKeyOf(r.rec.b.kv), signer, newKeyVersion, newKey))
}

function reencrypted (r: DecodedRecord<ItemBody>, oldKey: Uint8Array, signer: Uint8Array, newKeyVersion: number, newKey: Uint8Array): Unsigned<ItemBody> {
  const b = r.rec.b
  // The padded plaintext moves as-is: same bucket, no parse/serialise round trip.
  const padded = gcmDecrypt(oldKey, b.iv, b.ct, itemAad(r.groupId, r.recordId, r.rec.c, r.rec.s, b))
  const head = { a: b.a, n: b.n, kv: newKeyVersion, del: false, p: r.hash, ...(b.l !== undefined ? { l: b.l } : {}) }
  const sealed = gcmEncrypt(newKey, padded, itemAad(r.groupId, r.recordId, r.rec.c, signer, head))
  padded.fill(0)
  return { t: 'item', groupId: r.groupId, recordId: r.recordId, clock: r.rec.c, body: { ...head, iv: sealed.iv, ct: sealed.ct } }
}

/** The document JSON bytes; for a linked entry, checked against its content commitment. */
export function openItemBytes (r: DecodedRecord<ItemBody>, key: Uint8Array): Uint8Array {
  const b = r.rec.b
  if (b.del) throw new IntegrityError('item is deleted')
  const aad = itemAad(r.groupId, r.recordId, r.rec.c, r.rec.s, b)
  const doc = unpad(gcmDecrypt(key, b.iv, b.ct, aad))
  if (b.l === undefined) return doc
  if (doc.length < SALT_BYTES) throw new IntegrityError('append-only entry plaintext is too short')
  const json = doc.subarray(SALT_BYTES)
  if (!equalBytes(contentCommitment(doc.subarray(0, SALT_BYTES), json), b.l.cc)) {
    throw new IntegrityError('append-only entry content does not match its signed commitment (changed by whoever re-encrypted it)', { reason: 'content-commitment' })
  }
  return json
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

/** The entry commitment E of a linked entry (what links name), undefined for an unlinked item. */
export function commitmentOf (r: DecodedRecord<ItemBody>): Uint8Array | undefined {
  const l = r.rec.b.l
  return l === undefined ? undefined : entryCommitment({ groupId: r.groupId, recordId: r.recordId, author: r.rec.b.a, clock: r.rec.c }, l)
}

/**
 * Is `next` a re-encryption of `prev` (the only replacement an append-only
 * group allows): same author, nonce, clock and link, a higher key version, and
 * still content (never a tombstone)?
 */
export function isReencryptionOf (prev: DecodedRecord<ItemBody>, next: DecodedRecord<ItemBody>): boolean {
  const a = prev.rec.b; const b = next.rec.b
  return prev.recordId === next.recordId && prev.rec.c === next.rec.c && !b.del && !a.del && b.kv > a.kv &&
    equalBytes(a.a, b.a) && equalBytes(a.n, b.n) && sameLink(a.l, b.l)
}
