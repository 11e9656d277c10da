/**
 * Key wrap (ephemeral X25519 → HKDF-SHA256 → XChaCha20-Poly1305): round trip,
 * wrong recipient, context binding, tampering, and a cross-check of the
 * Ed25519→X25519 conversion and ECDH against @noble/curves.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { edToX25519Public, edToX25519Secret, unwrapWith, wrapFor } from '../../src/crypto/keywrap.js'
import { generateSigningKey, signingKeyFromSeed } from '../../src/crypto/sign.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { IntegrityError } from '../../src/util/errors.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const isIntegrity = (e: unknown): boolean => e instanceof IntegrityError && e.code === 'INTEGRITY'

test('wrap → unwrap round trips for the recipient', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (secret, info) => {
    const me = generateSigningKey()
    const w = wrapFor(me.publicKey, secret, info)
    assert.equal(w.epk.length, 32)
    assert.deepEqual(unwrapWith(me.seed, me.publicKey, w, info), secret)
  }), { numRuns: 100 })
})

test('a wrap for one entity does not open for another', () => {
  const alice = generateSigningKey()
  const bob = generateSigningKey()
  const w = wrapFor(alice.publicKey, randomBytes(32), enc('ctx'))
  assert.throws(() => unwrapWith(bob.seed, bob.publicKey, w, enc('ctx')), isIntegrity)
  // even claiming alice's public key without her seed fails
  assert.throws(() => unwrapWith(bob.seed, alice.publicKey, w, enc('ctx')), isIntegrity)
})

test('context binding: a wrap made for one info (group, key version, recipient) never opens under another', () => {
  const me = generateSigningKey()
  const w = wrapFor(me.publicKey, randomBytes(32), enc('cairn/group-key/v1 g=1 kv=1'))
  for (const other of ['cairn/group-key/v1 g=1 kv=2', 'cairn/group-key/v1 g=2 kv=1', '', 'cairn/group-key/v1 g=1 kv=1 ']) {
    assert.throws(() => unwrapWith(me.seed, me.publicKey, w, enc(other)), isIntegrity, other)
  }
})

test('a flipped bit in epk, nonce or ciphertext fails with IntegrityError', () => {
  const me = generateSigningKey()
  const info = enc('i')
  const secret = randomBytes(32)
  const w = wrapFor(me.publicKey, secret, info)
  for (const field of ['epk', 'nonce', 'ct'] as const) {
    for (let i = 0; i < w[field].length; i += 3) {
      const t = { ...w, [field]: new Uint8Array(w[field]) }
      t[field][i]! ^= 0x04
      let out: Uint8Array | undefined
      try { out = unwrapWith(me.seed, me.publicKey, t, info) } catch (e) { assert.ok(isIntegrity(e), `${field}[${i}]: ${String(e)}`); continue }
      assert.fail(`${field}[${i}] flipped and still unwrapped ${out.length} bytes`)
    }
  }
})

test('low-order / malformed ephemeral keys and a malformed recipient are refused, not crashed on', () => {
  const me = generateSigningKey()
  const w = wrapFor(me.publicKey, randomBytes(32), enc('i'))
  assert.throws(() => unwrapWith(me.seed, me.publicKey, { ...w, epk: new Uint8Array(32) }, enc('i')), isIntegrity)
  assert.throws(() => unwrapWith(me.seed, me.publicKey, { ...w, epk: new Uint8Array(31) }, enc('i')), isIntegrity)
  const one = new Uint8Array(32); one[0] = 1
  assert.throws(() => unwrapWith(me.seed, me.publicKey, { ...w, epk: one }, enc('i')), isIntegrity)
})

test('cross-check: Ed25519→X25519 conversion agrees with noble (public of converted secret = converted public)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), seed => {
    const k = signingKeyFromSeed(seed)
    const xsec = edToX25519Secret(seed)
    assert.deepEqual(x25519.getPublicKey(xsec), edToX25519Public(k.publicKey))
    assert.deepEqual(edToX25519Public(k.publicKey), ed25519.utils.toMontgomery(ed25519.getPublicKey(seed)))
  }), { numRuns: 100 })
})

test('cross-check: a wrap made with node:crypto ECDH opens with an independent noble implementation (x25519.getSharedSecret + hkdf + xchacha)', () => {
  for (let i = 0; i < 20; i++) {
    const me = generateSigningKey()
    const secret = randomBytes(32)
    const info = enc(`group-${i}`)
    const w = wrapFor(me.publicKey, secret, info)
    const xsec = edToX25519Secret(me.seed)
    const xpub = x25519.getPublicKey(xsec)
    const shared = x25519.getSharedSecret(xsec, w.epk)
    const k = hkdf(sha256, shared, new Uint8Array([...w.epk, ...xpub]), new Uint8Array([...enc('cairn/wrap/v1'), ...info]), 32)
    assert.deepEqual(xchacha20poly1305(k, w.nonce, info).decrypt(w.ct), secret)
    // and both sides of the ECDH agree: ephemeral × recipient = recipient × ephemeral
    const eph = x25519.utils.randomSecretKey()
    assert.deepEqual(x25519.getSharedSecret(eph, xpub), x25519.getSharedSecret(xsec, x25519.getPublicKey(eph)))
  }
})
