/** Ed25519 (libsodium, node:crypto where its addon does not load), cross-checked against @noble/curves and each other (SPEC §2). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ed25519 } from '@noble/curves/ed25519.js'
import { ed25519Impl, forgetSigningKey, generateSigningKey, openssl, sign, signedMessage, signingKeyFromSeed, useEd25519, verify } from '../../src/crypto/sign.js'

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const msgArb = fc.uint8Array({ minLength: 0, maxLength: 1024 })

test('a key from a seed has the same public key as noble derives from that seed', () => {
  fc.assert(fc.property(seedArb, seed => {
    assert.deepEqual(signingKeyFromSeed(seed).publicKey, ed25519.getPublicKey(seed))
  }), { numRuns: 100 })
})

test('cross-check: a cairn signature verifies under @noble/curves ed25519', () => {
  fc.assert(fc.property(seedArb, msgArb, (seed, msg) => {
    const k = signingKeyFromSeed(seed)
    const sig = sign(k, msg)
    assert.equal(sig.length, 64)
    assert.equal(ed25519.verify(sig, msg, k.publicKey), true)
    // Ed25519 is deterministic: both libraries produce the very same signature.
    assert.deepEqual(sig, ed25519.sign(msg, seed))
  }), { numRuns: 100 })
})

test('cross-check: a @noble/curves signature verifies under cairn', () => {
  fc.assert(fc.property(seedArb, msgArb, (seed, msg) => {
    const sig = ed25519.sign(msg, seed)
    assert.equal(verify(ed25519.getPublicKey(seed), msg, sig), true)
  }), { numRuns: 100 })
})

test('a signature fails after any flipped bit in message, signature or public key', () => {
  fc.assert(fc.property(seedArb, fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.constantFrom('msg', 'sig', 'pub'), (seed, msg, pos, bit, where) => {
    const k = signingKeyFromSeed(seed)
    const sig = sign(k, msg)
    const m = new Uint8Array(msg); const s = new Uint8Array(sig); const p = new Uint8Array(k.publicKey)
    const t = where === 'msg' ? m : where === 'sig' ? s : p
    t[pos % t.length]! ^= 1 << bit
    assert.equal(verify(p, m, s), false)
    assert.equal(ed25519.verify(s, m, p, { zip215: false }), false)
  }), { numRuns: 300 })
})

test('verify never throws on hostile input: wrong lengths, garbage keys', () => {
  const k = generateSigningKey()
  const msg = new Uint8Array([1, 2, 3])
  const sig = sign(k, msg)
  assert.equal(verify(k.publicKey.subarray(0, 31), msg, sig), false)
  assert.equal(verify(k.publicKey, msg, sig.subarray(0, 63)), false)
  assert.equal(verify(new Uint8Array(32).fill(0xff), msg, sig), false)
  assert.equal(verify(new Uint8Array(32), msg, new Uint8Array(64)), false)
  assert.throws(() => signingKeyFromSeed(new Uint8Array(31)), RangeError)
})

test('signedMessage separates domains: a signature for one label does not verify for another', () => {
  const k = generateSigningKey()
  const body = new Uint8Array([9, 9, 9])
  const sig = sign(k, signedMessage('cairn/item/v1', body))
  assert.equal(verify(k.publicKey, signedMessage('cairn/item/v1', body), sig), true)
  assert.equal(verify(k.publicKey, signedMessage('cairn/desc/v1', body), sig), false)
})

test('this process signs with libsodium (sodium-native installs with npm ci), and says so', () => {
  assert.deepEqual(ed25519Impl(), { name: 'libsodium' })
})

test('cross-check: libsodium and OpenSSL make the same signature, and each verifies the other\'s', () => {
  fc.assert(fc.property(seedArb, msgArb, (seed, msg) => {
    const k = signingKeyFromSeed(seed)
    assert.deepEqual(k.publicKey, openssl.publicKeyOf(seed))
    const sig = sign(k, msg)
    assert.deepEqual(openssl.sign(k, msg), sig)
    assert.equal(openssl.verify(k.publicKey, msg, sig), true)
    assert.equal(verify(k.publicKey, msg, openssl.sign(k, msg)), true)
  }), { numRuns: 100 })
})

test('the OpenSSL fallback refuses what libsodium refuses: flipped bits, wrong lengths, garbage keys', () => {
  const k = generateSigningKey()
  const msg = new Uint8Array([1, 2, 3])
  const sig = sign(k, msg)
  assert.equal(openssl.verify(k.publicKey, msg, sig), true)
  const bad = new Uint8Array(sig); bad[5]! ^= 1
  assert.equal(openssl.verify(k.publicKey, msg, bad), false)
  assert.equal(openssl.verify(k.publicKey.subarray(0, 31), msg, sig), false)
  assert.equal(openssl.verify(k.publicKey, msg, sig.subarray(0, 63)), false)
  assert.equal(openssl.verify(new Uint8Array(32).fill(0xff), msg, sig), false)
})

test('a small-order public key signs nothing: the identity point with R = identity, S = 0 is refused for any message', () => {
  const identity = new Uint8Array(32); identity[0] = 1
  const trivial = new Uint8Array(64); trivial[0] = 1
  for (const m of [new Uint8Array([1, 2, 3]), signedMessage('cairn/item/v1', new Uint8Array(40))]) {
    assert.equal(verify(identity, m, trivial), false)
    // OpenSSL (the fallback) checks no key's order and accepts it: only the holder of
    // such a "key" gains by it, and only as that key (docs/SECURITY.md).
    assert.equal(openssl.verify(identity, m, trivial), true)
  }
})

test('forgetSigningKey zeroizes both forms of the secret', () => {
  const k = generateSigningKey()
  sign(k, new Uint8Array([1]))
  openssl.sign(k, new Uint8Array([1]))
  forgetSigningKey(k)
  assert.ok(k.seed.every(b => b === 0))
  assert.ok(k.secret.every(b => b === 0))
  // Signing with it is an error, not a signature under a key of zeros.
  assert.throws(() => sign(k, new Uint8Array([1])), /zeroized/)
  forgetSigningKey(undefined)
})

test('useEd25519 switches the implementation at any time: keys made before keep signing the same bytes, and the choice is reported', () => {
  const k = generateSigningKey()
  const m = new Uint8Array([4, 5, 6])
  const bySodium = sign(k, m)
  try {
    useEd25519('openssl')
    assert.deepEqual(ed25519Impl(), { name: 'openssl', chosen: true })
    assert.deepEqual(sign(k, m), bySodium)
    assert.equal(verify(k.publicKey, m, bySodium), true)
    assert.deepEqual(generateSigningKey().publicKey.length, 32)
  } finally {
    useEd25519('libsodium')
  }
  assert.deepEqual(ed25519Impl(), { name: 'libsodium' })
})

test('one signature per message: S + L (the same scalar, not canonically encoded) is refused by both implementations', () => {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  const le = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n)
  const toLe = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn))
  for (let i = 0; i < 5; i++) {
    const k = generateSigningKey()
    const m = new Uint8Array([i])
    const sig = sign(k, m)
    // S < L < 2^253, so S + L still fits the 32 bytes.
    const bad = new Uint8Array(sig); bad.set(toLe(le(sig.subarray(32)) + L), 32)
    assert.equal(verify(k.publicKey, m, sig), true)
    assert.equal(verify(k.publicKey, m, bad), false)
    assert.equal(openssl.verify(k.publicKey, m, bad), false)
  }
})
