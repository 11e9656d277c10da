/**
 * The append-only DAG core (src/groups/dag.ts), with simulated writers: each
 * writer links the heads of what it has seen, writers sync at random, and
 * every node computes the same heads from the same entries. Removing an entry
 * is named at each child; amendments must target what their author saw.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { chooseParents, resolveAmendments, verifyDag, type Amendment, type DagEntry } from '../../src/groups/dag.js'

interface Sim { entries: DagEntry[], views: Array<Set<string>> }

/** Writers 0..w-1 append and sync following `ops`: [writer, 'write' | 'sync-from', other]. */
function simulate (w: number, ops: Array<[number, boolean, number]>): Sim {
  const entries: DagEntry[] = []
  const byE = new Map<string, DagEntry>()
  const views = Array.from({ length: w }, () => new Set<string>())
  let clock = 0
  for (const [i, write, j] of ops) {
    const me = i % w
    if (write) {
      const seen = views[me]!
      const named = new Set([...seen].flatMap(e => byE.get(e)!.parents))
      const heads = [...seen].filter(e => !named.has(e)).map(e => byE.get(e)!)
      const parents = chooseParents(heads, 4).map(h => h.e)
      const e: DagEntry = { recordId: `r${entries.length}`, e: `e${String(entries.length).padStart(4, '0')}`, parents, clock: ++clock }
      entries.push(e); byE.set(e.e, e); seen.add(e.e)
    } else {
      for (const e of views[j % w]!) views[me]!.add(e)
    }
  }
  return { entries, views }
}

const opsArb = fc.array(fc.tuple(fc.nat(10), fc.boolean(), fc.nat(10)), { minLength: 1, maxLength: 80 })

test('property: whatever writers do concurrently, the log is valid and every node computes the same heads (the entries no entry names)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), opsArb, (w, ops) => {
    const { entries } = simulate(w, ops)
    const v = verifyDag(entries)
    const shuffled = verifyDag([...entries].reverse())
    const named = new Set(entries.flatMap(e => e.parents))
    return v.problems.length === 0 && v.entries === entries.length &&
      JSON.stringify(v.heads) === JSON.stringify(shuffled.heads) &&
      JSON.stringify(v.heads) === JSON.stringify(entries.map(e => e.e).filter(e => !named.has(e)).sort())
  }), { numRuns: 300 })
})

test('property: an entry missing from the log is named at every entry that links it', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), opsArb, fc.nat(), (w, ops, pick) => {
    const { entries } = simulate(w, ops)
    if (entries.length < 2) return true
    const gone = entries[pick % entries.length]!
    const v = verifyDag(entries.filter(e => e !== gone))
    const children = entries.filter(e => e.parents.includes(gone.e)).map(e => e.recordId).sort()
    const named = v.problems.filter(p => p.problem === 'missing-parent' && p.ref === gone.e).map(p => p.recordId).sort()
    return JSON.stringify(children) === JSON.stringify(named) && v.problems.every(p => p.problem === 'missing-parent')
  }), { numRuns: 300 })
})

test('two writers who have not seen each other leave two heads; an entry that saw both merges them', () => {
  const a: DagEntry = { recordId: 'a', e: 'ea', parents: [], clock: 1 }
  const b: DagEntry = { recordId: 'b', e: 'eb', parents: [], clock: 2 }
  assert.deepEqual(verifyDag([a, b]).heads, ['ea', 'eb'])
  const m: DagEntry = { recordId: 'm', e: 'em', parents: ['ea', 'eb'], clock: 3 }
  assert.deepEqual(verifyDag([a, b, m]), { heads: ['em'], entries: 3, problems: [] })
})

test('a parent not older than its child, a duplicate, an amendment of an entry its author had not seen or may not amend: each named', () => {
  const a: DagEntry = { recordId: 'a', e: 'ea', parents: [], clock: 5 }
  const late: DagEntry = { recordId: 'l', e: 'el', parents: ['ea'], clock: 5 }
  assert.deepEqual(verifyDag([a, late]).problems, [{ recordId: 'l', problem: 'parent-not-earlier', ref: 'ea' }])
  assert.deepEqual(verifyDag([a, { ...a, recordId: 'a2' }]).problems, [{ recordId: 'a2', problem: 'duplicate-entry', ref: 'ea' }])

  const b: DagEntry = { recordId: 'b', e: 'eb', parents: [], clock: 6 } // concurrent with a: did not see it
  const blind: DagEntry = { recordId: 'x', e: 'ex', parents: ['eb'], clock: 7, kind: 'redacts', target: 'ea' }
  assert.deepEqual(verifyDag([a, b, blind]).problems, [{ recordId: 'x', problem: 'target-not-seen', ref: 'ea' }])
  const ghost: DagEntry = { recordId: 'g', e: 'eg', parents: ['ea'], clock: 7, kind: 'corrects', target: 'e-none' }
  assert.deepEqual(verifyDag([a, ghost]).problems, [{ recordId: 'g', problem: 'missing-target', ref: 'e-none' }])
  const fix: DagEntry = { recordId: 'f', e: 'ef', parents: ['eb', 'ea'], clock: 8, kind: 'corrects', target: 'ea' }
  assert.deepEqual(verifyDag([a, b, fix]).problems, [])
  assert.deepEqual(verifyDag([a, b, fix], () => false).problems, [{ recordId: 'f', problem: 'amend-not-allowed', ref: 'ea' }])
})

test('chooseParents names every head up to the cap, then the newest', () => {
  const hs = Array.from({ length: 6 }, (_, i) => ({ e: `e${i}`, clock: i }))
  assert.equal(chooseParents(hs, 8).length, 6)
  assert.deepEqual(chooseParents(hs, 3).map(h => h.e), ['e5', 'e4', 'e3'])
})

test('resolveAmendments: corrections apply oldest first (the last one is served), a redaction hides the content, a redacted amendment does not apply', () => {
  const c1: Amendment = { recordId: 'c1', e: 'c1', kind: 'corrects', clock: 10, author: 'x' }
  const c2: Amendment = { recordId: 'c2', e: 'c2', kind: 'corrects', clock: 12, author: 'x' }
  const r: Amendment = { recordId: 'r', e: 'r', kind: 'redacts', clock: 11, author: 'x' }
  assert.deepEqual(resolveAmendments([c2, c1], () => false), { correctedBy: [c1, c2] })
  assert.deepEqual(resolveAmendments([c2, r, c1], () => false).redactedBy, r)
  assert.deepEqual(resolveAmendments([c2, r, c1], a => a === r), { correctedBy: [c1, c2] })
  assert.deepEqual(resolveAmendments([c2, c1], a => a === c2).correctedBy, [c1])
})
