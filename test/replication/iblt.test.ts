/**
 * The IBLT opening of /cairn/sync/1.1.0 (src/replication/iblt.ts, reconcile.ts
 * IBLT/WANT): peeling a difference, its bounds against a hostile table, and
 * whole sessions between in-memory sets (memory-session.ts, every range
 * through the wire form) that use it or fall back to the range trie.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import fc from 'fast-check'
import { CELLS, decodeDifference, Iblt, WIRE_CELL_BYTES } from '../../src/replication/iblt.js'
import { reconcileInMemory } from '../../src/replication/memory-session.js'
import { MemorySet } from '../../src/replication/memory-set.js'
import { fromWire, openingTurn, respond } from '../../src/replication/reconcile.js'
import { SyncIndex } from '../../src/replication/sync-index.js'

const h = (...parts: Array<string | number>): Uint8Array => new Uint8Array(createHash('sha256').update(parts.join('/')).digest())
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
function hashes (n: number, ...label: Array<string | number>): Uint8Array[] {
  const bytes = createCipheriv('aes-256-ctr', h(...label), Buffer.alloc(16, 0)).update(Buffer.alloc(n * 32))
  return Array.from({ length: n }, (_, i) => new Uint8Array(bytes.subarray(i * 32, (i + 1) * 32)))
}
const tableOf = (hs: Uint8Array[]): Iblt => { const t = new Iblt(); for (const x of hs) t.add(x); return t }
const sorted = (hs: Uint8Array[]): string[] => hs.map(hex).sort()

test('iblt: the difference of two tables of large sets peels to exactly the elements each side lacks, for up to 12 differences', () => {
  const common = hashes(5000, 'common')
  for (let d = 0; d <= 12; d++) {
    const onlyA = hashes(Math.ceil(d / 2), 'a', d)
    const onlyB = hashes(Math.floor(d / 2), 'b', d)
    const diff = decodeDifference(tableOf([...common, ...onlyA]).toWire(), tableOf([...common, ...onlyB]))
    assert.ok(diff !== undefined, `${d} differences peel`)
    assert.deepEqual(sorted(diff.theirs), sorted(onlyA))
    assert.deepEqual(sorted(diff.mine), sorted(onlyB))
  }
})

test('iblt: remove undoes add (a table built incrementally equals one built from the final set), and the index keeps its table across save and load', () => {
  const xs = hashes(300, 'x')
  const t = tableOf(xs)
  for (const x of xs.slice(100)) t.remove(x)
  assert.deepEqual([...t.cells], [...tableOf(xs.slice(0, 100)).cells])
  const ix = SyncIndex.build(xs, xs.length)
  const back = SyncIndex.fromState(ix.depth, ix.state())!
  assert.deepEqual([...back.iblt.cells], [...tableOf(xs).cells])
})

test('iblt: too many differences do not peel (undefined, never a wrong list), for 40 to 400 differences', () => {
  const common = hashes(1000, 'c')
  for (const d of [40, 60, 100, 400]) {
    const diff = decodeDifference(tableOf([...common, ...hashes(d, 'many', d)]).toWire(), tableOf(common))
    assert.equal(diff, undefined, `${d} differences`)
  }
})

test('iblt: hostile tables (random bytes, forged pure cells, counts that do not add up) are refused or peel to at most CELLS claims, in bounded work', () => {
  const mine = tableOf(hashes(200, 'mine'))
  fc.assert(fc.property(fc.uint8Array({ minLength: CELLS, maxLength: CELLS }), fc.uint8Array({ minLength: CELLS * WIRE_CELL_BYTES, maxLength: CELLS * WIRE_CELL_BYTES }), (c, x) => {
    const t0 = performance.now()
    const diff = decodeDifference({ c, x }, mine)
    assert.ok(diff === undefined || diff.theirs.length + diff.mine.length <= CELLS)
    assert.ok(performance.now() - t0 < 1000, 'peeling is bounded')
  }), { numRuns: 300 })
  // A forged "pure" cell (count 1, a key, a wrong check) is not taken.
  const forged = new Iblt().toWire()
  forged.c[0] = 1
  forged.x.set(h('forged'), 0)
  assert.equal(decodeDifference(forged, new Iblt()), undefined)
  // Wrong shapes are refused before any work.
  assert.equal(decodeDifference({ c: new Uint8Array(CELLS - 1), x: new Uint8Array(CELLS * WIRE_CELL_BYTES) }, mine), undefined)
  assert.throws(() => new Iblt(new Uint32Array(3)), RangeError)
})

test('iblt on the wire: an IBLT or WANT range of the wrong shape or place is malformed (fromWire refuses it)', () => {
  const { c, x } = new Iblt().toWire()
  assert.ok(fromWire([5, 0, 0, c, x]) !== undefined)
  assert.equal(fromWire([5, 1, 0, c, x]), undefined, 'only at the root')
  assert.equal(fromWire([5, 0, 0, c.subarray(1), x]), undefined)
  assert.equal(fromWire([5, 0, 0, c]), undefined)
  assert.ok(fromWire([6, 0, 0, new Uint8Array(64)]) !== undefined)
  assert.equal(fromWire([6, 0, 0, new Uint8Array(33)]), undefined, 'whole hashes only')
  assert.equal(fromWire([6, 0, 0, new Uint8Array(32 * (CELLS + 1))]), undefined, 'at most CELLS hashes')
})

test('1.1.0 session: 20,000 items with 10 differing (10+0, 5+5, 0+10) converge in ≤ 2 round trips (1 when only the responder has them), in under 2.5 KB of ranges; 1.0.0 needs 3', () => {
  const common = hashes(20_000, 'big')
  for (const [na, nb] of [[10, 0], [5, 5], [0, 10]] as const) {
    const a = [...common, ...hashes(na, 'A', na)]
    const b = [...common, ...hashes(nb, 'B', nb)]
    const o = reconcileInMemory(a, b, { iblt: true })
    assert.equal(o.a.size, 20_010); assert.equal(o.b.size, 20_010)
    assert.deepEqual(o.a.all().map(hex), o.b.all().map(hex))
    assert.equal(o.recordsSent, 10, 'exactly the difference moves')
    assert.equal(o.roundTrips, na > 0 ? 2 : 1)
    assert.ok(o.rangeBytes <= 2500, `${o.rangeBytes} B`)
    assert.ok(reconcileInMemory(a, b).roundTrips >= 3, 'the 1.0.0 opening takes longer')
  }
})

test('1.1.0 session: with too many differences for the IBLT (0–600 random) it falls back to the range trie in the same session and still converges to the union', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 600 }), fc.string({ maxLength: 6 }), (na, nb, seed) => {
    const common = hashes(500, seed, 'c')
    const a = [...common, ...hashes(na, seed, 'a')]
    const b = [...common, ...hashes(nb, seed, 'b')]
    const o = reconcileInMemory(a, b, { iblt: true })
    const union = [...new Set([...a, ...b].map(hex))].sort()
    assert.deepEqual(o.a.all().map(hex), union)
    assert.deepEqual(o.b.all().map(hex), union)
    assert.equal(o.recordsSent, na + nb)
  }), { numRuns: 25 })
})

test('after a short-id collision (FULL), a 1.1.0 session asks for exactly the records it lacks (WANT), where 1.0.0 takes the whole range', () => {
  // Found by the property above: with these sets two 3-byte id slices collide.
  const seed = '%AW~P'
  const common = hashes(500, seed, 'c')
  const a = [...common, ...hashes(15, seed, 'a')]
  const b = [...common, ...hashes(20, seed, 'b')]
  const union = [...new Set([...a, ...b].map(hex))].sort()
  const v11 = reconcileInMemory(a, b, { iblt: true })
  assert.deepEqual(v11.a.all().map(hex), union)
  assert.deepEqual(v11.b.all().map(hex), union)
  assert.equal(v11.recordsSent, 35, 'only the 35 differing records move')
  const v10 = reconcileInMemory(a, b)
  assert.deepEqual(v10.a.all().map(hex), union)
  assert.ok(v10.recordsSent > 35, `1.0.0 has no WANT: it re-sends the range (${v10.recordsSent})`)
})

test('1.1.0 responder: a difference that peels but does not match the initiator\'s root summaries (or claims records it holds as missing) is not acted on; the SPLIT is answered instead', () => {
  const common = hashes(3000, 'r')
  const extra = hashes(3, 'extra')
  const a = new MemorySet([...common, ...extra])
  const b = new MemorySet(common)
  const open = openingTurn(a, true).ranges
  // Honest: WANT of the 3, nothing else.
  const honest = respond(b, open)
  assert.deepEqual(honest.ranges.map(r => r.k), [6])
  // The split of another set behind a's IBLT: the claimed difference does not fit it.
  const lying = [open[0]!, openingTurn(new MemorySet([...common, ...hashes(3, 'other')])).ranges[0]!]
  const t = respond(b, lying)
  assert.ok(t.ranges.every(r => r.k !== 6), 'no WANT from a claim that does not check out')
  assert.ok(t.ranges.length > 0, 'the SPLIT is answered')
  // An IBLT claiming that a holds nothing b lacks but lacks records b holds, which b does not hold either: refused.
  const ghost = openingTurn(new MemorySet([...common, ...hashes(2, 'ghost')]), true).ranges
  const g = respond(b, [ghost[0]!, open[1]!])
  assert.ok(g.ranges.every(r => r.k !== 6) && g.send.length === 0)
})
