/**
 * The in-memory search index applies updates in batches (one FTS5 commit per
 * batch): a search must still see every update made before it, in order, and
 * dropping a group (circle sealed, vault locked) must drop its queued updates too.
 * Large items are matched whole and snippeted from a chunk; a query yields the
 * event loop between slices and stops at its time budget.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SearchIndex } from '../../src/search/search-index.js'

const G1 = '11111111-1111-4111-8111-111111111111'
const G2 = '22222222-2222-4222-8222-222222222222'
const ids = async (s: SearchIndex, q: string, limit = 10, g?: string): Promise<string[]> => (await s.search(q, limit, g)).results.map(h => h.itemId)

test('a search right after put, update and remove sees each of them, in order', async () => {
  const s = new SearchIndex()
  s.open()
  s.put('a', G1, 'note', 'the heron waits', null)
  assert.deepEqual(await ids(s, 'heron'), ['a'])
  s.put('a', G1, 'note', 'the kingfisher dives', null)
  s.put('b', G1, 'note', 'another heron', { tag: 'kingfisher' })
  assert.deepEqual(await ids(s, 'heron'), ['b'], 'the old words of a are gone')
  assert.deepEqual((await ids(s, 'kingfisher')).sort(), ['a', 'b'])
  s.remove('b')
  assert.deepEqual(await ids(s, 'kingfisher'), ['a'])
  s.close()
})

test('a short item (one chunk): its snippet marks the term, follows an update, and is its head when only the type matched; a long one snippets from its chunk', async () => {
  const s = new SearchIndex()
  s.open()
  s.put('a', G1, 'note', 'the grey heron waits by the reeds at dawn', null)
  s.put('long', G1, 'note', `${'filler words here '.repeat(200)} the heron at the far end`, null)
  s.put('t', G1, 'heron', 'nothing about birds in the text itself', null)
  const hits = new Map((await s.search('heron', 10)).results.map(h => [h.itemId, h.snippet]))
  assert.match(hits.get('a')!, /\[heron\]/)
  assert.match(hits.get('long')!, /\[heron\]/)
  assert.ok(hits.get('long')!.length <= 300)
  assert.equal(hits.get('t'), 'nothing about birds in the text itself', 'matched by its type only: the head of its text')
  s.put('a', G1, 'note', 'now a kingfisher, no more grey', null)
  const again = (await s.search('grey', 10)).results
  assert.deepEqual(again.map(h => [h.itemId, h.snippet]), [['a', 'now a kingfisher, no more [grey]']], 'the new text, not the old')
  s.remove('a')
  assert.deepEqual(await ids(s, 'kingfisher'), [])
  // The snippet's scratch row is never kept: a later search of the same words finds only indexed items.
  assert.deepEqual((await ids(s, 'heron')).sort(), ['long', 't'])
  s.close()
})

test('removeGroup drops indexed and still-queued items of that group only', async () => {
  const s = new SearchIndex()
  s.open()
  s.put('x', G1, 'note', 'secret otter', null)
  assert.equal((await ids(s, 'otter')).length, 1)
  s.put('y', G1, 'note', 'queued otter', null)
  s.put('z', G2, 'note', 'other otter', null)
  s.removeGroup(G1)
  assert.deepEqual(await ids(s, 'otter'), ['z'])
  s.put('w', G1, 'note', 'a new otter after the drop', null)
  assert.deepEqual((await ids(s, 'otter')).sort(), ['w', 'z'])
  s.close()
})

test('many updates between searches (more than one batch) are all applied', async () => {
  const s = new SearchIndex()
  s.open()
  for (let i = 0; i < 1200; i++) s.put(`i${i}`, G1, 'note', `word${i % 7} common`, null)
  for (let i = 0; i < 1200; i += 2) s.remove(`i${i}`)
  assert.equal((await ids(s, 'common', 1000)).length, 600)
  assert.equal((await ids(s, 'word3', 1000)).length, [...Array(1200).keys()].filter(i => i % 2 === 1 && i % 7 === 3).length)
  s.close()
  assert.deepEqual(await ids(s, 'common'), [], 'a closed index finds nothing')
})

test('a large item: every word is found, terms far apart still match together, the snippet is short and shows the term', async () => {
  const s = new SearchIndex()
  s.open()
  const filler = 'lorem ipsum dolor sit amet '.repeat(4000)
  s.put('big', G1, 'note', `heron at the start ${filler} kingfisher at the end`, null)
  s.put('small', G1, 'note', 'only a heron', null)
  assert.deepEqual((await ids(s, 'heron')).sort(), ['big', 'small'])
  assert.deepEqual(await ids(s, 'heron kingfisher'), ['big'], 'AND across chunks')
  const hit = (await s.search('kingfisher', 5)).results[0]!
  assert.match(hit.snippet, /\[kingfisher\]/)
  assert.ok(hit.snippet.length <= 300)
  // one word repeated 63,000 times (the 440 KB item of issue 12)
  s.put('hammer', G2, 'note', 'hammer '.repeat(63_000), null)
  const t0 = performance.now()
  const r = await s.search('hammer', 5)
  assert.deepEqual(r.results.map(h => h.itemId), ['hammer'])
  assert.ok(performance.now() - t0 < 5000, `took ${Math.round(performance.now() - t0)} ms`)
  s.close()
})

test('a query yields the event loop between slices and stops at its budget with partial: true', async () => {
  const s = new SearchIndex({ budgetMs: 30, sliceMs: 2 })
  s.open()
  for (let i = 0; i < 60_000; i++) s.put(`n${i}`, G1, 'note', `common word number ${i}`, null)
  await s.drain()
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  const r = await s.search('common', 10)
  clearInterval(timer)
  assert.equal(r.partial, true, 'a 30 ms budget cannot rank 60,000 matches on this machine')
  assert.equal(r.results.length, 10)
  assert.ok(ticks > 0, 'timers ran during the search')
  s.close()
})

test('a group dropped while a search runs is not in its results', async () => {
  const s = new SearchIndex({ sliceMs: 1 })
  s.open()
  for (let i = 0; i < 5_000; i++) s.put(`c${i}`, i % 2 === 0 ? G1 : G2, 'note', `circle secret ${i}`, null)
  await s.drain()
  const running = s.search('secret', 200)
  setImmediate(() => { s.removeGroup(G1) })
  const r = await running
  assert.ok(r.results.every(h => h.groupId === G2), 'no hit of the dropped group')
  s.close()
})
