/**
 * The signed record envelope: anything but the exact bytes a signer produced
 * fails decodeRecord with IntegrityError. Item records: sealed content opens
 * only with the right key under the exact header it was sealed with.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sha256 } from '../../src/crypto/hash.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { bucketSize } from '../../src/crypto/padding.js'
import { decodeRecord, signRecord, type VerifiedRecord } from '../../src/records/record.js'
import { KINDS } from '../../src/records/kinds.js'
import { checkItemBody, contentHashOf, itemIdFor, openItem, reencryptItem, sealItem, type ItemBody } from '../../src/records/item.js'
import { openName } from '../../src/records/descriptor.js'
import { openKeyEnvelope, sealKeyEnvelope } from '../../src/records/key-envelope.js'
import { IntegrityError } from '../../src/util/errors.js'
import { at, item, makeGroup, newKey, plainOf } from '../helpers/records.js'

const isIntegrity = (e: unknown): boolean => e instanceof IntegrityError && e.code === 'INTEGRITY'

function mustFail (bytes: Uint8Array, what: string): void {
  let r: VerifiedRecord | undefined
  try { r = decodeRecord(bytes) } catch (e) { assert.ok(isIntegrity(e), `${what}: threw ${String(e)}`); return }
  assert.fail(`${what}: decoded a tampered record (${r.recordId})`)
}

const owner = newKey()
const g = makeGroup(owner, [], { name: 'records test group' })

test('a signed record decodes to the same record, hash = SHA-256 of its bytes', () => {
  const r = item(g, owner, at(10), { plain: plainOf({ text: 'round trip' }, 'note', { tag: 'x' }) })
  const d = decodeRecord(r.bytes)
  assert.deepEqual(d.bytes, r.bytes)
  assert.deepEqual(d.hash, sha256(r.bytes))
  assert.equal(d.recordId, r.recordId)
  assert.equal(d.groupId, g.gid)
  assert.equal(d.signer, r.signer)
  assert.equal(d.rec.c, at(10))
  KINDS[d.rec.t].check(d.rec.b)
  assert.deepEqual(openItem(d as VerifiedRecord<ItemBody>, g.keys.get(1)!).content, { text: 'round trip' })
})

test('flipping any bit of any byte of an item record makes decodeRecord fail with IntegrityError', () => {
  const r = item(g, owner, at(20), { plain: plainOf('short') })
  for (let i = 0; i < r.bytes.length; i++) {
    for (const mask of [0x01, 0x10, 0x80]) {
      const b = new Uint8Array(r.bytes)
      b[i]! ^= mask
      mustFail(b, `byte ${i} ^ 0x${mask.toString(16)}`)
    }
  }
})

test('flipping any byte of descriptor and key-envelope records fails too (property)', () => {
  const env = sealKeyEnvelope(owner, g.gid, at(30), 1, newKey().publicKey, g.keys.get(1)!)
  const recs = [g.descs[0]!, env]
  fc.assert(fc.property(fc.constantFrom(...recs), fc.nat(), fc.integer({ min: 1, max: 255 }), (r, pos, mask) => {
    const b = new Uint8Array(r.bytes)
    b[pos % b.length]! ^= mask
    mustFail(b, `byte ${pos % b.length} ^ ${mask}`)
  }), { numRuns: 1500 })
})

test('truncated, extended, empty and oversized records fail with IntegrityError', () => {
  const r = item(g, owner, at(40))
  mustFail(r.bytes.subarray(0, r.bytes.length - 1), 'truncated by one byte')
  mustFail(r.bytes.subarray(0, 50), 'truncated to 50 bytes')
  mustFail(new Uint8Array([...r.bytes, 0]), 'one byte appended')
  mustFail(new Uint8Array(0), 'empty')
  mustFail(randomBytes(300), 'random bytes')
  assert.throws(() => decodeRecord(r.bytes, r.bytes.length - 1), (e: unknown) => isIntegrity(e) && (e as IntegrityError).details?.reason === 'too-large')
})

test('a record signed by one key and claiming another signer fails (the signer field is covered)', () => {
  const mallory = newKey()
  const r = item(g, owner, at(50))
  const b = Buffer.from(r.bytes)
  const i = b.indexOf(Buffer.from(owner.publicKey))
  assert.ok(i >= 0)
  Buffer.from(mallory.publicKey).copy(b, i)
  mustFail(new Uint8Array(b), 'signer replaced')
})

test('item content round trips any JSON, padded to its bucket', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), fc.string({ minLength: 1, maxLength: 20 }), (content, type) => {
    const plain = plainOf(JSON.parse(JSON.stringify(content)), type)
    const r = item(g, owner, at(60), { plain })
    const b = r.rec.b
    assert.equal(b.ct.length, bucketSize(Buffer.byteLength(JSON.stringify(plain))) + 16)
    const back = openItem(decodeRecord(r.bytes) as VerifiedRecord<ItemBody>, g.keys.get(1)!)
    assert.deepEqual(back, plain)
    assert.equal(contentHashOf(back), contentHashOf(plain))
  }), { numRuns: 200 })
})

test('an item opened with the wrong key fails with IntegrityError', () => {
  const r = item(g, owner, at(70))
  assert.throws(() => openItem(r, randomBytes(32)), isIntegrity)
})

test('the item ID is derived from (author, nonce), and the author is the signer of a new item', () => {
  const r = item(g, owner, at(80))
  assert.equal(r.recordId, itemIdFor(owner.publicKey, r.rec.b.n))
  assert.deepEqual(r.rec.b.a, owner.publicKey)
})

test('the AEAD binds the header: the same ciphertext re-signed under another clock, group, signer, key version, nonce, author or id does not open', () => {
  const r = item(g, owner, at(90), { plain: plainOf('bound to its header') })
  const key = g.keys.get(1)!
  const other = makeGroup(owner)
  const admin = newKey()
  const b = r.rec.b
  const variants: Array<[string, VerifiedRecord<ItemBody>]> = [
    ['clock', signRecord<ItemBody>(owner, { t: 'item', groupId: g.gid, recordId: r.recordId, clock: at(91), body: b })],
    ['group', signRecord<ItemBody>(owner, { t: 'item', groupId: other.gid, recordId: r.recordId, clock: r.rec.c, body: b })],
    ['signer', signRecord<ItemBody>(admin, { t: 'item', groupId: g.gid, recordId: r.recordId, clock: r.rec.c, body: b })],
    ['key version', signRecord<ItemBody>(owner, { t: 'item', groupId: g.gid, recordId: r.recordId, clock: r.rec.c, body: { ...b, kv: 2 } })],
    ['prev hash', signRecord<ItemBody>(owner, { t: 'item', groupId: g.gid, recordId: r.recordId, clock: r.rec.c, body: { ...b, p: randomBytes(32) } })],
    ['nonce', signRecord<ItemBody>(owner, { t: 'item', groupId: g.gid, recordId: r.recordId, clock: r.rec.c, body: { ...b, n: randomBytes(16) } })],
    ['author', signRecord<ItemBody>(owner, { t: 'item', groupId: g.gid, recordId: r.recordId, clock: r.rec.c, body: { ...b, a: admin.publicKey } })],
    ['record id', signRecord<ItemBody>(owner, { t: 'item', groupId: g.gid, recordId: itemIdFor(owner.publicKey, randomBytes(16)), clock: r.rec.c, body: b })]
  ]
  assert.equal(openItem(r, key).content, 'bound to its header')
  for (const [what, v] of variants) {
    const d = decodeRecord(v.bytes) as VerifiedRecord<ItemBody> // signature is valid
    assert.throws(() => openItem(d, key), isIntegrity, what)
  }
})

test('a tombstone carries no ciphertext and does not open', () => {
  const r = item(g, owner, at(100))
  const t = item(g, owner, at(101), { plain: null, existing: r })
  assert.equal(t.recordId, r.recordId)
  assert.equal(t.rec.b.del, true)
  assert.equal(t.rec.b.ct.length, 0)
  assert.equal(t.rec.b.iv.length, 0)
  assert.deepEqual(t.rec.b.p, r.hash)
  assert.throws(() => openItem(t, g.keys.get(1)!), isIntegrity)
  checkItemBody(t.rec.b)
})

test('re-encryption moves an item to a new key version: same ID, clock and author; opens only with the new key', () => {
  const r = item(g, owner, at(110), { plain: plainOf({ deep: ['content', 1, true] }, 'memo', { m: 1 }) })
  const newKeyBytes = randomBytes(32)
  const admin = newKey()
  const re = reencryptItem(r, g.keys.get(1)!, admin, 2, newKeyBytes)
  const d = decodeRecord(re.bytes) as VerifiedRecord<ItemBody>
  assert.equal(d.recordId, r.recordId)
  assert.equal(d.rec.c, r.rec.c)
  assert.deepEqual(d.rec.b.a, owner.publicKey)
  assert.deepEqual(d.rec.s, admin.publicKey)
  assert.equal(d.rec.b.kv, 2)
  assert.equal(d.rec.b.ct.length, r.rec.b.ct.length, 'same size bucket')
  assert.deepEqual(openItem(d, newKeyBytes), openItem(r, g.keys.get(1)!))
  assert.throws(() => openItem(d, g.keys.get(1)!), isIntegrity)
  assert.throws(() => reencryptItem(r, randomBytes(32), admin, 2, newKeyBytes), isIntegrity)
})

test('item body shape checks refuse missing, extra and mis-sized fields', () => {
  const b = item(g, owner, at(120)).rec.b
  const bad: Array<Record<string, unknown>> = [
    { ...b, extra: 1 }, { ...b, a: b.a.subarray(0, 31) }, { ...b, n: new Uint8Array(15) }, { ...b, kv: -1 },
    { ...b, kv: 1.5 }, { ...b, del: 1 }, { ...b, iv: new Uint8Array(11) }, { ...b, ct: new Uint8Array(100) },
    { ...b, del: true }, { ...b, p: new Uint8Array(31) }
  ]
  const { a: _a, ...noA } = b
  bad.push(noA)
  for (const x of bad) assert.throws(() => checkItemBody(x), isIntegrity, JSON.stringify(Object.keys(x)))
})

test('the group name travels sealed in the descriptor: not in its bytes, opens with the group key only', () => {
  const name = `secret-name-${Buffer.from(randomBytes(6)).toString('hex')}`
  const gg = makeGroup(owner, [], { name })
  const d = gg.descs[0]!
  assert.equal(Buffer.from(d.bytes).indexOf(Buffer.from(name)), -1)
  assert.equal(openName(gg.gid, 1, gg.keys.get(1)!, d.rec.b.nm), name)
  assert.throws(() => openName(gg.gid, 1, randomBytes(32), d.rec.b.nm), isIntegrity)
  assert.throws(() => openName(gg.gid, 2, gg.keys.get(1)!, d.rec.b.nm), isIntegrity, 'bound to the key version')
})

test('a key envelope opens for its recipient only and carries no raw key bytes', () => {
  const bob = newKey()
  const carol = newKey()
  const key = g.keys.get(1)!
  const env = sealKeyEnvelope(owner, g.gid, at(130), 1, bob.publicKey, key)
  const d = decodeRecord(env.bytes) as typeof env
  KINDS[d.rec.t].check(d.rec.b)
  assert.deepEqual(openKeyEnvelope(d, bob.seed, bob.publicKey), key)
  assert.throws(() => openKeyEnvelope(d, carol.seed, carol.publicKey), isIntegrity)
  assert.equal(Buffer.from(env.bytes).indexOf(Buffer.from(key)), -1)
})

test('sealItem never leaves plaintext in the record bytes', () => {
  const marker = `plain-marker-${Date.now()}`
  const r = sealItem({ signer: owner, groupId: g.gid, clock: at(140), keyVersion: 1, key: g.keys.get(1)!, plain: plainOf(marker, marker, { [marker]: marker }) })
  assert.equal(Buffer.from(r.bytes).indexOf(Buffer.from(marker)), -1)
})
