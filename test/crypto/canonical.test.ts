/**
 * Deterministic CBOR: one value has exactly one byte string. decodeCanonical
 * must refuse every other encoding of a value (non-minimal integers and lengths,
 * unsorted or duplicate map keys, indefinite lengths, floats standing in for
 * integers, undefined), so record hashes cannot be malleated.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeBounded, decodeCanonical, encodeCanonical, MAX_CBOR_DEPTH, STRICT_DECODE } from '../../src/crypto/canonical.js'
import { IntegrityError } from '../../src/util/errors.js'

const key = fc.string({ maxLength: 12 }).filter(k => k !== '__proto__')
const value = fc.letrec(tie => ({
  v: fc.oneof({ depthSize: 'small' },
    fc.maxSafeInteger(), fc.integer({ min: -100, max: 100 }), fc.string({ maxLength: 40 }), fc.boolean(), fc.constant(null),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(key, tie('v'), { maxKeys: 6, noNullPrototype: true }))
})).v

const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const refuses = (hex: string, why: string): void => {
  assert.throws(() => decodeCanonical(fromHex(hex)), (e: unknown) => e instanceof IntegrityError && e.code === 'INTEGRITY', `accepted ${why}: ${hex}`)
}

test('decode(encode(v)) equals v, and encoding is deterministic', () => {
  fc.assert(fc.property(value, v => {
    const a = encodeCanonical(v)
    assert.deepEqual(decodeCanonical(a), v)
    assert.deepEqual(encodeCanonical(decodeCanonical(a)), a)
  }), { numRuns: 500 })
})

test('map key order in the input object does not change the encoding', () => {
  fc.assert(fc.property(fc.dictionary(key, fc.integer(), { minKeys: 2, maxKeys: 8, noNullPrototype: true }), d => {
    const reversed = Object.fromEntries(Object.entries(d).reverse())
    assert.deepEqual(encodeCanonical(reversed), encodeCanonical(d))
  }))
})

test('any byte string decodes only if it is the one canonical encoding of its value', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), bytes => {
    let v: unknown
    try { v = decodeCanonical(bytes) } catch (e) {
      assert.ok(e instanceof IntegrityError, `non-IntegrityError thrown: ${String(e)}`)
      return
    }
    assert.deepEqual(encodeCanonical(v), bytes)
  }), { numRuns: 3000 })
})

test('a flipped bit in an encoded value either fails or decodes to a different value (never the same value from other bytes)', () => {
  fc.assert(fc.property(value, fc.nat(), fc.integer({ min: 0, max: 7 }), (v, pos, bit) => {
    const a = encodeCanonical(v)
    const b = new Uint8Array(a)
    b[pos % b.length]! ^= 1 << bit
    try {
      const w = decodeCanonical(b)
      assert.notDeepEqual(encodeCanonical(w), a)
    } catch (e) { assert.ok(e instanceof IntegrityError) }
  }), { numRuns: 500 })
})

test('non-canonical encodings are refused', () => {
  // 5 as a one-byte-argument integer (0x18 0x05) instead of 0x05
  refuses('18 05', 'non-minimal integer')
  refuses('19 00 05', 'non-minimal 16-bit integer')
  refuses('1a 00 00 00 05', 'non-minimal 32-bit integer')
  refuses('1b 00 00 00 00 00 00 00 05', 'non-minimal 64-bit integer')
  // "a" with a one-byte length prefix
  refuses('78 01 61', 'non-minimal string length')
  refuses('58 01 ff', 'non-minimal byte-string length')
  refuses('98 01 01', 'non-minimal array length')
  refuses('b8 01 61 61 01', 'non-minimal map length')
  // {"b":1,"a":2}: keys out of order
  refuses('a2 61 62 01 61 61 02', 'unsorted map keys')
  // {"a":1,"a":2}: duplicate keys
  refuses('a2 61 61 01 61 61 02', 'duplicate map keys')
  // indefinite-length array and string
  refuses('9f 01 02 ff', 'indefinite-length array')
  refuses('7f 61 61 ff', 'indefinite-length string')
  // 1.0 as a float for an integer value
  refuses('f9 3c 00', 'half-float 1.0')
  refuses('fb 3f f0 00 00 00 00 00 00', 'double 1.0')
  // undefined, NaN, Infinity
  refuses('f7', 'undefined')
  refuses('f9 7e 00', 'NaN')
  refuses('f9 7c 00', 'Infinity')
  // trailing bytes after a complete value
  refuses('01 01', 'trailing bytes')
  // truncated
  refuses('62 61', 'truncated string')
  refuses('a1 61 61', 'truncated map')
})

test('the canonical forms of those values are accepted', () => {
  assert.deepEqual(decodeCanonical(fromHex('05')), 5)
  assert.deepEqual(decodeCanonical(fromHex('61 61')), 'a')
  assert.deepEqual(decodeCanonical(fromHex('a2 61 61 02 61 62 01')), { a: 2, b: 1 })
  assert.deepEqual(decodeCanonical(fromHex('82 01 02')), [1, 2])
})

test('nesting is bounded: 32 levels decode, 33 and 2 MiB of nested arrays are a clear error, not a stack overflow', () => {
  const nest = (depth: number): Uint8Array => Uint8Array.from([...Array(depth).fill(0x81), 0x00])
  assert.equal(JSON.stringify(decodeCanonical(nest(MAX_CBOR_DEPTH))), '['.repeat(MAX_CBOR_DEPTH) + '0' + ']'.repeat(MAX_CBOR_DEPTH))
  assert.throws(() => decodeCanonical(nest(MAX_CBOR_DEPTH + 1)), IntegrityError)
  assert.throws(() => decodeCanonical(nest(2 * 1024 * 1024)), IntegrityError)
  // maps and tags count as levels too; siblings do not add depth
  assert.throws(() => decodeBounded(Uint8Array.from([...Array(40).fill(0xa1).flatMap(b => [b, 0x61, 0x61]), 0x00]), STRICT_DECODE, 16))
  const wide = encodeCanonical(Array.from({ length: 1000 }, () => [[[1]]]))
  assert.equal((decodeBounded(wide, STRICT_DECODE, 4) as unknown[]).length, 1000)
  assert.throws(() => decodeBounded(wide, STRICT_DECODE, 3))
})
