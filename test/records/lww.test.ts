/** Last-writer-wins: a total order on versions, so every node picks the same winner. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { compareVersions, isNewer, type VersionKey } from '../../src/records/lww.js'

const ver = fc.record({
  clock: fc.integer({ min: 1, max: 50 }),
  kv: fc.integer({ min: 1, max: 4 }),
  hash: fc.uint8Array({ minLength: 2, maxLength: 2 }).map(h => new Uint8Array([...h, ...new Uint8Array(30)]))
})
const sign = (n: number): number => n < 0 ? -1 : n > 0 ? 1 : 0
const same = (a: VersionKey, b: VersionKey): boolean => a.clock === b.clock && a.kv === b.kv && Buffer.from(a.hash).equals(Buffer.from(b.hash))

test('compareVersions is antisymmetric and zero only for identical versions', () => {
  fc.assert(fc.property(ver, ver, (a, b) => {
    assert.equal(sign(compareVersions(a, b)), -sign(compareVersions(b, a)))
    assert.equal(compareVersions(a, b) === 0, same(a, b))
    assert.equal(compareVersions(a, a), 0)
  }), { numRuns: 2000 })
})

test('compareVersions is transitive', () => {
  fc.assert(fc.property(ver, ver, ver, (a, b, c) => {
    if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0)
  }), { numRuns: 3000 })
})

test('every node picks the same winner whatever order versions arrive in', () => {
  fc.assert(fc.property(fc.array(ver, { minLength: 1, maxLength: 12 }), fc.func(fc.integer()), (vs, shuffleKey) => {
    const winner = (list: VersionKey[]): VersionKey => {
      let cur: VersionKey | undefined
      for (const v of list) if (isNewer(v, cur)) cur = v
      return cur!
    }
    const shuffled = [...vs].map((v, i) => ({ v, k: shuffleKey(i) })).sort((x, y) => x.k - y.k).map(x => x.v)
    assert.ok(same(winner(vs), winner(shuffled)))
    assert.ok(same(winner(vs), winner([...vs].reverse())))
  }), { numRuns: 500 })
})

test('higher clock wins; on equal clocks the higher key version (a re-encryption) wins; then the hash', () => {
  const h = (b: number): Uint8Array => new Uint8Array(32).fill(b)
  assert.ok(compareVersions({ clock: 2, kv: 1, hash: h(0) }, { clock: 1, kv: 9, hash: h(9) }) > 0)
  assert.ok(compareVersions({ clock: 1, kv: 2, hash: h(0) }, { clock: 1, kv: 1, hash: h(9) }) > 0)
  assert.ok(compareVersions({ clock: 1, kv: 1, hash: h(2) }, { clock: 1, kv: 1, hash: h(1) }) > 0)
  assert.equal(isNewer({ clock: 1, kv: 1, hash: h(1) }, undefined), true)
  assert.equal(isNewer({ clock: 1, kv: 1, hash: h(1) }, { clock: 1, kv: 1, hash: h(1) }), false)
})
