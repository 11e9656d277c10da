/** Length hiding: plaintexts pad to buckets (256 B … 64 KiB powers of two, then 64 KiB steps). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bucketSize, pad, unpad } from '../../src/crypto/padding.js'
import { IntegrityError } from '../../src/util/errors.js'

const KiB = 1024

test('bucket sizes at the edges: 256 B minimum, powers of two to 64 KiB, then 64 KiB steps', () => {
  const cases: Array<[number, number]> = [
    [0, 256], [1, 256], [255, 256], [256, 512], [511, 512], [512, 1024],
    [1000, 1024], [1023, 1024], [1024, 2048], [4095, 4096], [32 * KiB - 1, 32 * KiB], [32 * KiB, 64 * KiB],
    [64 * KiB - 1, 64 * KiB], [64 * KiB, 128 * KiB], [100 * KiB, 128 * KiB], [128 * KiB - 1, 128 * KiB],
    [128 * KiB, 192 * KiB], [192 * KiB, 256 * KiB], [1024 * KiB, 1088 * KiB]
  ]
  for (const [n, want] of cases) assert.equal(bucketSize(n), want, `plaintext of ${n} bytes`)
})

test('every bucket is either a power of two in [256, 64 Ki] or a multiple of 64 KiB, and fits the plaintext plus its marker', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 4 * 1024 * KiB }), n => {
    const b = bucketSize(n)
    assert.ok(b >= n + 1)
    if (b <= 64 * KiB) {
      assert.ok(b >= 256 && (b & (b - 1)) === 0, `${b} is not a power of two`)
      // smallest such bucket: the next smaller one would not fit
      if (b > 256) assert.ok(b / 2 < n + 1)
    } else {
      assert.equal(b % (64 * KiB), 0)
      assert.ok(b - 64 * KiB < n + 1)
    }
  }), { numRuns: 2000 })
})

test('pad → unpad round trips any plaintext, and the padded length is its bucket', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 5000 }), pt => {
    const p = pad(pt)
    assert.equal(p.length, bucketSize(pt.length))
    assert.deepEqual(unpad(p), pt)
  }), { numRuns: 500 })
})

test('plaintexts of different lengths in one bucket pad to the same length (a keeper learns only the bucket)', () => {
  assert.equal(pad(new Uint8Array(10)).length, pad(new Uint8Array(200)).length)
  assert.equal(pad(new Uint8Array(70 * KiB)).length, pad(new Uint8Array(120 * KiB)).length)
})

test('unpad refuses malformed padding with IntegrityError: all zeros, no 0x80 marker, empty', () => {
  for (const bad of [new Uint8Array(256), new Uint8Array(0), Uint8Array.from([1, 2, 3, 0, 0]), Uint8Array.from([0x80, 0x01])]) {
    assert.throws(() => unpad(bad), (e: unknown) => e instanceof IntegrityError && e.code === 'INTEGRITY')
  }
})
