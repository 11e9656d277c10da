/**
 * The indexer takes this node's own writes as they were sealed (ItemService
 * .sealedHere: the record object the acceptor's `stored` event carries), not
 * decrypted again; anything else it opens with the group's key, and what does
 * not open is not indexed. On a real node a local write's record has its
 * plaintext there; the same record decoded again from its bytes has none.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { GroupId } from '../../src/crypto/ids.js'
import { decodeRecord, hasKind, type DecodedRecord } from '../../src/records/record.js'
import type { ItemBody, ItemPlain } from '../../src/records/item.js'
import { SearchIndex } from '../../src/search/search-index.js'
import { SearchIndexer } from '../../src/search/indexer.js'
import { at, item, makeGroup, newKey } from '../helpers/records.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll } from '../helpers/cli.js'

const plain = (content: string): ItemPlain => ({ type: 'note', content, meta: null, createdAt: 1 })

function indexer (o: { wrongKey: boolean, sealed?: Map<DecodedRecord, ItemPlain> }, g: ReturnType<typeof makeGroup>) {
  const index = new SearchIndex()
  index.open()
  const ix = new SearchIndexer({
    index,
    store: { listKind: () => [], listGroups: () => [] },
    keyFor: (_gid, kv) => o.wrongKey ? new Uint8Array(randomBytes(32)) : g.keys.get(kv),
    readable: () => true,
    ...(o.sealed !== undefined ? { sealedHere: (r: DecodedRecord<ItemBody>) => o.sealed!.get(r) } : {})
  })
  return { index, ix }
}

const found = async (index: SearchIndex, q: string): Promise<string[]> => (await index.search(q, 10)).results.map(h => h.itemId)

test('an own write is indexed from its sealed plaintext (no key could open it here); another record only if its key opens it', async () => {
  const owner = newKey()
  const g = makeGroup(owner)
  const own = item(g, owner, at(10), { plain: plain('the heron of our own write') })
  const other = item(g, owner, at(11), { plain: plain('a heron from a peer') })
  const a = indexer({ wrongKey: true, sealed: new Map([[own, plain('the heron of our own write')]]) }, g)
  a.ix.stored(own, false)
  a.ix.stored(other, false)
  assert.deepEqual(await found(a.index, 'heron'), [own.recordId], 'own write indexed without decrypting; the other did not open')
  const b = indexer({ wrongKey: false }, g)
  b.ix.stored(own, false)
  b.ix.stored(other, false)
  assert.deepEqual((await found(b.index, 'heron')).sort(), [own.recordId, other.recordId].sort(), 'with the right key both open')
  a.index.close(); b.index.close()
})

let A: LocalNode | undefined
after(async () => { await A?.stop(); await stopAll() })

test('a real node: the record a local write stores carries its plaintext to the indexer; the same record decoded from its bytes does not', async () => {
  A = await localNode()
  const s = A.daemon.services
  const gid = (await A.ok('POST', '/api/v1/groups', { name: 'sealed here' })).id as GroupId
  const seen: Array<{ sealed: ItemPlain | undefined, again: ItemPlain | undefined }> = []
  s.events.on('stored', ({ record }) => {
    if (record.groupId === gid && hasKind(record, 'item')) seen.push({ sealed: s.items.sealedHere(record), again: s.items.sealedHere(decodeRecord(record.bytes) as DecodedRecord<ItemBody>) })
  })
  await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'kingfisher at dusk', meta: { tag: 'birds' } })
  assert.equal(seen.length, 1)
  assert.equal(seen[0]!.sealed?.content, 'kingfisher at dusk')
  assert.deepEqual(seen[0]!.sealed?.meta, { tag: 'birds' })
  assert.equal(seen[0]!.again, undefined)
  const r = await A.ok('GET', '/api/v1/search?q=kingfisher')
  assert.equal(r.results.length, 1)
  assert.match(r.results[0].snippet, /\[kingfisher\]/)
})
