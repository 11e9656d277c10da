/**
 * AEAD: AES-256-GCM (node:crypto) for item content, XChaCha20-Poly1305 (noble)
 * for wraps and the vault. Round trips, fail-closed tamper detection, and the
 * SPEC §2 cross-check of node:crypto GCM against @noble/ciphers GCM.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { gcm } from '@noble/ciphers/aes.js'
import { gcmDecrypt, gcmEncrypt, xchachaDecrypt, xchachaEncrypt, GCM_IV_BYTES, GCM_TAG_BYTES } from '../../src/crypto/aead.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { IntegrityError } from '../../src/util/errors.js'

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const data = fc.uint8Array({ minLength: 0, maxLength: 2048 })
const aadArb = fc.uint8Array({ minLength: 0, maxLength: 64 })

function assertIntegrity (fn: () => unknown): void {
  let out: unknown
  try { out = fn() } catch (e) {
    assert.ok(e instanceof IntegrityError, `expected IntegrityError, got ${String(e)}`)
    assert.equal((e as IntegrityError).code, 'INTEGRITY')
    return
  }
  assert.fail(`tampered input returned ${out instanceof Uint8Array ? `${out.length} bytes` : String(out)} instead of failing`)
}

test('AES-256-GCM round trips any plaintext and AAD', () => {
  fc.assert(fc.property(key32, data, aadArb, (k, pt, aad) => {
    const { iv, ct } = gcmEncrypt(k, pt, aad)
    assert.equal(iv.length, GCM_IV_BYTES)
    assert.equal(ct.length, pt.length + GCM_TAG_BYTES)
    assert.deepEqual(gcmDecrypt(k, iv, ct, aad), pt)
  }), { numRuns: 300 })
})

test('AES-256-GCM: any flipped bit in iv, ciphertext, tag or AAD fails with IntegrityError', () => {
  fc.assert(fc.property(key32, fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.constantFrom('iv', 'ct', 'aad'),
    (k, pt, aad, pos, bit, where) => {
      const { iv, ct } = gcmEncrypt(k, pt, aad)
      const target = where === 'iv' ? new Uint8Array(iv) : where === 'ct' ? new Uint8Array(ct) : new Uint8Array(aad)
      target[pos % target.length]! ^= 1 << bit
      if (where === 'iv') assertIntegrity(() => gcmDecrypt(k, target, ct, aad))
      else if (where === 'ct') assertIntegrity(() => gcmDecrypt(k, iv, target, aad))
      else assertIntegrity(() => gcmDecrypt(k, iv, ct, target))
    }), { numRuns: 500 })
})

test('AES-256-GCM: wrong key, truncated ciphertext, or a malformed iv fail with IntegrityError', () => {
  const k = randomBytes(32)
  const { iv, ct } = gcmEncrypt(k, new TextEncoder().encode('secret'), new Uint8Array(0))
  assertIntegrity(() => gcmDecrypt(randomBytes(32), iv, ct, new Uint8Array(0)))
  assertIntegrity(() => gcmDecrypt(k, iv, ct.subarray(0, ct.length - 1), new Uint8Array(0)))
  assertIntegrity(() => gcmDecrypt(k, iv, ct.subarray(0, 10), new Uint8Array(0)))
  assertIntegrity(() => gcmDecrypt(k, iv.subarray(0, 11), ct, new Uint8Array(0)))
  assertIntegrity(() => gcmDecrypt(k, iv, new Uint8Array(0), new Uint8Array(0)))
})

test('AES-256-GCM: two encryptions of the same plaintext use different nonces and ciphertexts', () => {
  const k = randomBytes(32)
  const pt = new Uint8Array(64)
  const a = gcmEncrypt(k, pt, new Uint8Array(0))
  const b = gcmEncrypt(k, pt, new Uint8Array(0))
  assert.notDeepEqual(a.iv, b.iv)
  assert.notDeepEqual(a.ct, b.ct)
})

test('cross-check: node:crypto AES-256-GCM ciphertext decrypts with @noble/ciphers gcm', () => {
  fc.assert(fc.property(key32, data, aadArb, (k, pt, aad) => {
    const { iv, ct } = gcmEncrypt(k, pt, aad)
    assert.deepEqual(gcm(k, iv, aad).decrypt(ct), pt)
  }), { numRuns: 200 })
})

test('cross-check: @noble/ciphers gcm ciphertext decrypts with node:crypto AES-256-GCM', () => {
  fc.assert(fc.property(key32, data, aadArb, fc.uint8Array({ minLength: 12, maxLength: 12 }), (k, pt, aad, iv) => {
    const ct = gcm(k, iv, aad).encrypt(pt)
    assert.deepEqual(gcmDecrypt(k, iv, ct, aad), pt)
    // and both produce the very same bytes for the same key and nonce
    assert.deepEqual(gcmEncrypt(k, pt, aad, iv).ct, ct)
  }), { numRuns: 200 })
})

test('cross-check: a tag forged for noble is refused by node:crypto and vice versa', () => {
  const k = randomBytes(32)
  const iv = randomBytes(12)
  const pt = randomBytes(100)
  const ct = gcm(k, iv).encrypt(pt)
  ct[ct.length - 1]! ^= 0x80
  assertIntegrity(() => gcmDecrypt(k, iv, ct, new Uint8Array(0)))
  const mine = gcmEncrypt(k, pt, new Uint8Array(0), iv).ct
  mine[0]! ^= 1
  assert.throws(() => gcm(k, iv).decrypt(mine))
})

test('XChaCha20-Poly1305 round trips; any flipped bit fails with IntegrityError', () => {
  fc.assert(fc.property(key32, fc.uint8Array({ minLength: 1, maxLength: 500 }), aadArb, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.constantFrom('nonce', 'ct', 'aad'),
    (k, pt, aad, pos, bit, where) => {
      const { nonce, ct } = xchachaEncrypt(k, pt, aad)
      assert.equal(nonce.length, 24)
      assert.deepEqual(xchachaDecrypt(k, nonce, ct, aad), pt)
      const n2 = new Uint8Array(nonce); const c2 = new Uint8Array(ct); const a2 = new Uint8Array(aad.length === 0 ? 1 : aad.length)
      a2.set(aad)
      if (where === 'nonce') { n2[pos % n2.length]! ^= 1 << bit; assertIntegrity(() => xchachaDecrypt(k, n2, ct, aad)) }
      if (where === 'ct') { c2[pos % c2.length]! ^= 1 << bit; assertIntegrity(() => xchachaDecrypt(k, nonce, c2, aad)) }
      if (where === 'aad') { a2[pos % a2.length]! ^= 1 << bit; assertIntegrity(() => xchachaDecrypt(k, nonce, ct, a2)) }
    }), { numRuns: 300 })
})

test('XChaCha20-Poly1305: wrong key or short nonce fail with IntegrityError', () => {
  const k = randomBytes(32)
  const { nonce, ct } = xchachaEncrypt(k, randomBytes(32), new Uint8Array(0))
  assertIntegrity(() => xchachaDecrypt(randomBytes(32), nonce, ct, new Uint8Array(0)))
  assertIntegrity(() => xchachaDecrypt(k, nonce.subarray(0, 12), ct, new Uint8Array(0)))
})
