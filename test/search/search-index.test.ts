/**
 * The in-memory search index applies updates in batches (one FTS5 commit per
 * batch): a search must still see every update made before it, in order, and
 * dropping a group (circle sealed, vault locked) must drop its queued updates too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SearchIndex } from '../../src/search/search-index.js'

const G1 = '11111111-1111-4111-8111-111111111111'
const G2 = '22222222-2222-4222-8222-222222222222'

test('a search right after put, update and remove sees each of them, in order', () => {
  const s = new SearchIndex()
  s.open()
  s.put('a', G1, 'note', 'the heron waits', null)
  assert.deepEqual(s.search('heron', 10).map(h => h.itemId), ['a'])
  s.put('a', G1, 'note', 'the kingfisher dives', null)
  s.put('b', G1, 'note', 'another heron', { tag: 'kingfisher' })
  assert.deepEqual(s.search('heron', 10).map(h => h.itemId), ['b'], 'the old words of a are gone')
  assert.deepEqual(s.search('kingfisher', 10).map(h => h.itemId).sort(), ['a', 'b'])
  s.remove('b')
  assert.deepEqual(s.search('kingfisher', 10).map(h => h.itemId), ['a'])
  s.close()
})

test('removeGroup drops indexed and still-queued items of that group only', () => {
  const s = new SearchIndex()
  s.open()
  s.put('x', G1, 'note', 'secret otter', null)
  assert.equal(s.search('otter', 10).length, 1)
  s.put('y', G1, 'note', 'queued otter', null)
  s.put('z', G2, 'note', 'other otter', null)
  s.removeGroup(G1)
  assert.deepEqual(s.search('otter', 10).map(h => h.itemId), ['z'])
  s.close()
})

test('many updates between searches (more than one batch) are all applied', () => {
  const s = new SearchIndex()
  s.open()
  for (let i = 0; i < 1200; i++) s.put(`i${i}`, G1, 'note', `word${i % 7} common`, null)
  for (let i = 0; i < 1200; i += 2) s.remove(`i${i}`)
  assert.equal(s.search('common', 1000).length, 600)
  assert.equal(s.search('word3', 1000).length, [...Array(1200).keys()].filter(i => i % 2 === 1 && i % 7 === 3).length)
  s.close()
  assert.deepEqual(s.search('common', 10), [], 'a closed index finds nothing')
})
