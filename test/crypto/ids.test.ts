/** Entity IDs are bech32m "cairn1…" of the Ed25519 public key; item IDs are derived UUIDs. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bech32, bech32m } from '@scure/base'
import { bytesToUuid, derivedId, entityIdFromPublicKey, isEntityId, isGroupId, isRecordId, newGroupId, publicKeyFromEntityId, uuidToBytes } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { itemIdFor } from '../../src/records/item.js'
import { InvalidInputError } from '../../src/util/errors.js'

const pubArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'

const rejects = (id: string): void => {
  assert.throws(() => publicKeyFromEntityId(id), (e: unknown) => e instanceof InvalidInputError && e.code === 'INVALID_INPUT', `accepted ${id}`)
  assert.equal(isEntityId(id), false)
}

test('entity ID round trip: public key → cairn1… → the same public key', () => {
  fc.assert(fc.property(pubArb, pub => {
    const id = entityIdFromPublicKey(pub)
    assert.match(id, /^cairn1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$/)
    assert.deepEqual(publicKeyFromEntityId(id), pub)
    assert.equal(isEntityId(id), true)
  }), { numRuns: 300 })
})

test('a typo anywhere in an entity ID (one substituted character) is rejected', () => {
  fc.assert(fc.property(pubArb, fc.nat(), fc.integer({ min: 1, max: 31 }), (pub, p, shift) => {
    const id = entityIdFromPublicKey(pub)
    const i = 6 + (p % (id.length - 6)) // after "cairn1"
    const ch = CHARSET[(CHARSET.indexOf(id[i]!) + shift) % 32]!
    rejects(id.slice(0, i) + ch + id.slice(i + 1))
  }), { numRuns: 500 })
})

test('swapped adjacent characters, a dropped or an added character are rejected', () => {
  const id = entityIdFromPublicKey(generateSigningKey().publicKey)
  for (let i = 6; i < id.length - 1; i++) {
    if (id[i] === id[i + 1]) continue
    rejects(id.slice(0, i) + id[i + 1] + id[i] + id.slice(i + 2))
  }
  rejects(id.slice(0, -1))
  rejects(id.slice(0, 20) + id.slice(21))
  rejects(id + 'q')
})

test('other prefixes, bech32 (not m), wrong key lengths, and garbage are rejected', () => {
  const pub = generateSigningKey().publicKey
  rejects(bech32m.encode('bc', bech32m.toWords(pub)))
  rejects(bech32m.encode('cairnx', bech32m.toWords(pub)))
  rejects(bech32m.encode('cair', bech32m.toWords(pub)))
  rejects(bech32.encode('cairn', bech32.toWords(pub)))
  rejects(bech32m.encode('cairn', bech32m.toWords(pub.subarray(0, 31))))
  rejects(bech32m.encode('cairn', bech32m.toWords(new Uint8Array(33))))
  for (const g of ['', 'cairn1', 'cairn', '1', 'hello', 'x'.repeat(200), 'cairn1' + 'q'.repeat(58)]) rejects(g)
  assert.equal(isEntityId(42), false)
  assert.equal(isEntityId(null), false)
  assert.throws(() => entityIdFromPublicKey(new Uint8Array(31)), RangeError)
})

test('group IDs are random UUID v4s', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const g = newGroupId()
    assert.equal(isGroupId(g), true)
    assert.equal(seen.has(g), false)
    seen.add(g)
  }
  assert.equal(isGroupId('00000000-0000-8000-8000-000000000000'), false)
  assert.equal(isGroupId('not-a-uuid'), false)
})

test('item IDs derive from (author, nonce): deterministic, UUID-shaped, distinct per author and per nonce', () => {
  fc.assert(fc.property(pubArb, pubArb, fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (a, b, n1, n2) => {
    const id = itemIdFor(a, n1)
    assert.equal(isRecordId(id), true)
    assert.equal(id[14], '8', 'version nibble 8 (derived)')
    assert.equal(itemIdFor(a, n1), id)
    if (!Buffer.from(a).equals(Buffer.from(b))) assert.notEqual(itemIdFor(b, n1), id)
    if (!Buffer.from(n1).equals(Buffer.from(n2))) assert.notEqual(itemIdFor(a, n2), id)
  }), { numRuns: 200 })
  // domain separation: the same parts under another label give another ID
  const a = new Uint8Array(32).fill(1); const n = new Uint8Array(16).fill(2)
  assert.notEqual(derivedId('item', a, n), derivedId('desc', a, n))
})

test('UUID bytes round trip; malformed UUIDs are INVALID_INPUT', () => {
  fc.assert(fc.property(fc.uuid(), u => { assert.equal(bytesToUuid(uuidToBytes(u)), u) }))
  assert.throws(() => uuidToBytes('nope'), (e: unknown) => e instanceof InvalidInputError)
  assert.throws(() => bytesToUuid(new Uint8Array(15)), (e: unknown) => e instanceof InvalidInputError)
})
