/**
 * Append-only entries (src/records/ao-link.ts + item.ts): the fixed
 * byte-for-byte vectors of docs/RECORDS.md, the commitment surviving a
 * re-encryption, and the checks that make an edit of the content or the
 * link visible.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex, toHex } from '../../src/crypto/bytes.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { generateSigningKey, signingKeyFromSeed } from '../../src/crypto/sign.js'
import { MAX_PARENTS, checkLinkBody, entryCommitment, linkSignatureValid } from '../../src/records/ao-link.js'
import { checkItemBody, openItem, reencryptItem, sealItem, type ItemBody } from '../../src/records/item.js'
import { decodeRecord, signRecord, type VerifiedRecord } from '../../src/records/record.js'
import { IntegrityError } from '../../src/util/errors.js'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import { uuidToBytes } from '../../src/crypto/ids.js'
import { gcmEncrypt } from '../../src/crypto/aead.js'
import { pad } from '../../src/crypto/padding.js'
import { VECTOR_AUTHOR_SEED, VECTOR_GROUP, VECTOR_INPUTS, VECTOR_KEY, commitmentOf, sealVectors } from './ao-vectors.js'

const V = JSON.parse(readFileSync(join(import.meta.dirname, 'vectors/ao-entries.json'), 'utf8')) as {
  authorSeed: string, group: string, key: string,
  entries: Array<{ name: string, recordId: string, clock: number, commitment: string, commitmentPreimage: string, contentCommitment: string, entrySignature: string, recordHash: string, record: string }>
}

test('vectors: sealing the fixed inputs gives the fixed bytes, record hash, commitment, content commitment and entry signature', () => {
  assert.equal(V.authorSeed, toHex(VECTOR_AUTHOR_SEED))
  assert.equal(V.group, VECTOR_GROUP)
  assert.equal(V.key, toHex(VECTOR_KEY))
  const recs = sealVectors()
  assert.equal(recs.length, V.entries.length)
  for (const [i, r] of recs.entries()) {
    const v = V.entries[i]!
    assert.equal(toHex(r.bytes), v.record, `${v.name}: record bytes`)
    assert.equal(toHex(r.hash), v.recordHash, `${v.name}: record hash`)
    assert.equal(r.recordId, v.recordId)
    assert.equal(toHex(commitmentOf(r)), v.commitment, `${v.name}: E`)
    assert.equal(toHex(r.rec.b.l!.cc), v.contentCommitment)
    assert.equal(toHex(r.rec.b.l!.es), v.entrySignature)
  }
})

test('vectors: E is SHA-256 of the documented preimage ("cairn/ao-link/v1" 0x00 CBOR[…]); the fixed records decode, verify and open', () => {
  const author = signingKeyFromSeed(VECTOR_AUTHOR_SEED)
  for (const [i, v] of V.entries.entries()) {
    const pre = fromHex(v.commitmentPreimage)
    assert.ok(Buffer.from(pre.subarray(0, 17)).equals(Buffer.from('cairn/ao-link/v1\0')))
    assert.equal(createHash('sha256').update(pre).digest('hex'), v.commitment)
    const r = decodeRecord(fromHex(v.record)) as VerifiedRecord<ItemBody>
    assert.equal(toHex(r.hash), v.recordHash)
    const e = entryCommitment({ groupId: r.groupId, recordId: r.recordId, author: r.rec.b.a, clock: r.rec.c }, r.rec.b.l!)
    assert.equal(toHex(e), v.commitment)
    assert.ok(linkSignatureValid(author.publicKey, e, r.rec.b.l!))
    assert.deepEqual(openItem(r, VECTOR_KEY), VECTOR_INPUTS[i]!.plain)
    // Links: the second names the first; the correction names the second and targets the first.
    if (i > 0) assert.deepEqual(r.rec.b.l!.h.map(toHex), [V.entries[i - 1]!.commitment])
  }
  const corr = decodeRecord(fromHex(V.entries[2]!.record)) as VerifiedRecord<ItemBody>
  assert.equal(corr.rec.b.l!.t, 'corrects')
  assert.equal(toHex(corr.rec.b.l!.r!), V.entries[0]!.commitment)
})

const key1 = randomBytes(32)
const key2 = randomBytes(32)
const author = generateSigningKey()
const admin = generateSigningKey()
const entry = (parents: Uint8Array[] = []): VerifiedRecord<ItemBody> => sealItem({
  signer: author, groupId: VECTOR_GROUP, clock: 1024 * 1_800_000_000_000, keyVersion: 1, key: key1,
  plain: { type: 'note', content: 'the words', meta: null, createdAt: 1024 * 1_800_000_000_000 }, link: { parents }
})

test('a re-encryption keeps the entry commitment and the author\'s entry signature; the content still opens and checks', () => {
  const r = entry()
  const again = reencryptItem(r, key1, admin, 2, key2)
  assert.notEqual(toHex(again.hash), toHex(r.hash))
  assert.equal(toHex(commitmentOf(again)), toHex(commitmentOf(r)))
  assert.ok(linkSignatureValid(author.publicKey, commitmentOf(again), again.rec.b.l!))
  assert.equal(openItem(decodeRecord(again.bytes) as VerifiedRecord<ItemBody>, key2).content, 'the words')
})

test('a re-encryptor who swaps the words: the content no longer matches the signed commitment (INTEGRITY on read)', () => {
  const r = entry()
  // The admin holds the key: it can seal any words under the entry's clear header (the AAD is all clear fields).
  const head = { a: r.rec.b.a, n: r.rec.b.n, kv: 2, del: false, p: r.hash, l: r.rec.b.l! }
  const aad = encodeCanonical({ d: 'cairn/item-aad/v1', g: uuidToBytes(r.groupId), id: uuidToBytes(r.recordId), c: r.rec.c, s: admin.publicKey, ...head })
  const doc = Buffer.concat([randomBytes(32), Buffer.from(JSON.stringify({ type: 'note', content: 'other words', meta: null, createdAt: r.rec.c }))])
  const { iv, ct } = gcmEncrypt(key2, pad(doc), aad)
  const forged = signRecord<ItemBody>(admin, { t: 'item', groupId: r.groupId, recordId: r.recordId, clock: r.rec.c, body: { ...head, iv, ct } })
  const d = decodeRecord(forged.bytes) as VerifiedRecord<ItemBody>
  assert.equal(toHex(commitmentOf(d)), toHex(commitmentOf(r)), 'the link still resolves')
  assert.ok(linkSignatureValid(author.publicKey, commitmentOf(d), d.rec.b.l!), 'the author\'s entry signature still verifies')
  assert.throws(() => openItem(d, key2), (e: unknown) => e instanceof IntegrityError && (e as IntegrityError).details?.reason === 'content-commitment')
})

test('an entry signature by anyone but the author, or over another commitment, does not verify', () => {
  const r = entry()
  const e = commitmentOf(r)
  assert.equal(linkSignatureValid(admin.publicKey, e, r.rec.b.l!), false)
  const other = entry([e])
  assert.equal(linkSignatureValid(author.publicKey, commitmentOf(other), r.rec.b.l!), false)
})

test('link shape: parents sorted, unique, 32 bytes, at most MAX_PARENTS; kind and target together; a linked entry is never a tombstone', () => {
  const l = entry().rec.b.l!
  const e1 = new Uint8Array(32).fill(1); const e2 = new Uint8Array(32).fill(2)
  assert.doesNotThrow(() => checkLinkBody({ ...l, h: [e1, e2] }))
  for (const bad of [
    { ...l, h: [e2, e1] }, { ...l, h: [e1, e1] }, { ...l, h: [new Uint8Array(31)] },
    { ...l, h: Array.from({ length: MAX_PARENTS + 1 }, (_, i) => new Uint8Array(32).fill(i)) },
    { ...l, t: 'corrects' }, { ...l, r: e1 }, { ...l, t: 'deletes', r: e1 }, { ...l, cc: new Uint8Array(31) }, { ...l, es: new Uint8Array(10) },
    { ...l, extra: 1 }, 'link', null
  ]) assert.throws(() => checkLinkBody(bad), (e: unknown) => e instanceof IntegrityError, JSON.stringify(bad, (_k, v) => v instanceof Uint8Array ? toHex(v) : v).slice(0, 80))
  const r = entry()
  assert.throws(() => checkItemBody({ ...r.rec.b, del: true, iv: new Uint8Array(0), ct: new Uint8Array(0) }), (e: unknown) => e instanceof IntegrityError)
})

test('records written before links existed (no l field) still decode, check and open', () => {
  const legacy = sealItem({ signer: author, groupId: VECTOR_GROUP, clock: 1024 * 1_700_000_000_000, keyVersion: 1, key: key1, plain: { type: 'note', content: 'old', meta: null, createdAt: 0 } })
  assert.equal(legacy.rec.b.l, undefined)
  const d = decodeRecord(legacy.bytes) as VerifiedRecord<ItemBody>
  assert.equal(openItem(d, key1).content, 'old')
})
