/** The HTTP contract (SPEC §7.1) shapes: status, items, pagination, raw ciphertext, OpenAPI, metrics. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { isEntityId, isGroupId, isRecordId } from '../../src/crypto/ids.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll } from '../helpers/cli.js'

let n: LocalNode
let gid: string

before(async () => {
  n = await localNode()
  gid = (await n.ok('POST', '/api/v1/groups', { name: 'contract' })).id
})
after(async () => { await n?.stop(); await stopAll() })

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

test('GET /status has the contract fields; counts follow writes', async () => {
  const s = await n.ok('GET', '/api/v1/status')
  assert.ok(isEntityId(s.entityId))
  assert.ok(isGroupId(s.personalGroupId))
  assert.equal(typeof s.peerId, 'string')
  assert.ok(Array.isArray(s.listenAddrs))
  assert.equal(s.unlocked, true)
  assert.equal(s.keeper, false)
  assert.equal(typeof s.version, 'string')
  const before = s.counts.items
  await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'count me' })
  assert.equal((await n.ok('GET', '/api/v1/status')).counts.items, before + 1)
})

test('POST /groups → 201 {id,…}; GET /groups lists it with the contract fields', async () => {
  const r = await n.api('POST', '/api/v1/groups', { name: 'listed', culture: 'taciturn' })
  assert.equal(r.status, 201)
  assert.ok(isGroupId(r.json.id))
  const { groups } = await n.ok('GET', '/api/v1/groups')
  const g = groups.find((x: any) => x.id === r.json.id)
  assert.deepEqual({ name: g.name, culture: g.culture, role: g.role, keyVersion: g.keyVersion, memberCount: g.memberCount, keeperCount: g.keeperCount, itemCount: g.itemCount },
    { name: 'listed', culture: 'taciturn', role: 'owner', keyVersion: 1, memberCount: 1, keeperCount: 0, itemCount: 0 })
  const one = await n.ok('GET', `/api/v1/groups/${r.json.id}`)
  for (const k of ['id', 'name', 'culture', 'descriptorVersion', 'keyVersion', 'members', 'keepers']) assert.ok(k in one, k)
})

test('item write → 201 {id, groupId, author, keyVersion, updatedAt, contentHash}; read → the full document with provenance', async () => {
  const w = await n.api('POST', `/api/v1/groups/${gid}/items`, { content: { text: 'hello', list: [1, 2] }, type: 'memo', meta: { source: 'test' } })
  assert.equal(w.status, 201)
  assert.deepEqual(Object.keys(w.json).sort(), ['author', 'contentHash', 'groupId', 'id', 'keyVersion', 'updatedAt'])
  assert.ok(isRecordId(w.json.id))
  assert.equal(w.json.groupId, gid)
  assert.equal(w.json.author, n.entityId)
  assert.match(w.json.updatedAt, ISO)
  assert.match(w.json.contentHash, /^[0-9a-f]{64}$/)
  const it = await n.ok('GET', `/api/v1/items/${w.json.id}`)
  assert.deepEqual({ id: it.id, groupId: it.groupId, type: it.type, content: it.content, meta: it.meta, author: it.author, keyVersion: it.keyVersion },
    { id: w.json.id, groupId: gid, type: 'memo', content: { text: 'hello', list: [1, 2] }, meta: { source: 'test' }, author: n.entityId, keyVersion: 1 })
  assert.match(it.createdAt, ISO)
  assert.match(it.updatedAt, ISO)
  assert.equal(it.provenance.length, 1)
  assert.deepEqual(Object.keys(it.provenance[0]).sort(), ['action', 'at', 'by', 'hash', 'keyVersion', 'signature'])

  const u = await n.ok('PUT', `/api/v1/items/${w.json.id}`, { content: 'changed' })
  assert.notEqual(u.contentHash, w.json.contentHash)
  const after = await n.ok('GET', `/api/v1/items/${w.json.id}`)
  assert.equal(after.content, 'changed')
  assert.equal(after.type, 'memo', 'an update without type keeps the type')
  assert.deepEqual(after.meta, { source: 'test' }, 'an update without meta keeps the meta')
  assert.equal(after.createdAt, it.createdAt)
  assert.ok(after.updatedAt >= it.updatedAt)
  assert.deepEqual(after.provenance.map((p: any) => p.action), ['created', 'modified'])
  assert.equal(after.provenance[1].by, n.entityId)
})

test('listing pages newest first with nextCursor, covers every item once, and filters by type', async () => {
  const g = (await n.ok('POST', '/api/v1/groups', { name: 'paging' })).id
  const ids: string[] = []
  for (let i = 0; i < 11; i++) ids.push((await n.ok('POST', `/api/v1/groups/${g}/items`, { content: `p${i}`, type: i % 2 === 0 ? 'even' : 'odd' })).id)
  await n.ok('DELETE', `/api/v1/items/${ids[5]}`)
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: any = await n.ok('GET', `/api/v1/groups/${g}/items?limit=3${cursor !== null ? `&cursor=${cursor}` : ''}`)
    assert.ok(page.items.length <= 3)
    seen.push(...page.items.map((i: any) => i.id))
    cursor = page.nextCursor
    pages++
  } while (cursor !== null && pages < 20)
  const live = ids.filter((_, i) => i !== 5)
  assert.deepEqual(seen, [...live].reverse(), 'newest first, each live item exactly once, no tombstones')
  const even = await n.ok('GET', `/api/v1/groups/${g}/items?type=even&limit=100`)
  assert.deepEqual(even.items.map((i: any) => i.content), ['p10', 'p8', 'p6', 'p4', 'p2', 'p0'])
})

test('GET /raw shows ciphertext only, padded so different lengths in one bucket look the same', async () => {
  const g = (await n.ok('POST', '/api/v1/groups', { name: 'raw' })).id
  const a = await n.ok('POST', `/api/v1/groups/${g}/items`, { content: 'tiny' })
  const b = await n.ok('POST', `/api/v1/groups/${g}/items`, { content: 'a somewhat longer secret sentence, still under the first bucket' })
  const c = await n.ok('POST', `/api/v1/groups/${g}/items`, { content: 'z'.repeat(3000) })
  await n.ok('DELETE', `/api/v1/items/${c.id}`)
  const raw = await n.ok('GET', `/api/v1/groups/${g}/raw`)
  const byId = new Map<string, any>(raw.items.map((r: any) => [r.id, r]))
  for (const id of [a.id, b.id, c.id]) {
    const r = byId.get(id)
    for (const k of ['id', 'keyVersion', 'author', 'updatedAt', 'tombstone', 'size', 'ciphertext']) assert.ok(k in r, k)
  }
  const ra = byId.get(a.id); const rb = byId.get(b.id); const rc = byId.get(c.id)
  assert.equal(Buffer.from(ra.ciphertext, 'base64').length, Buffer.from(rb.ciphertext, 'base64').length, 'same bucket, same ciphertext length')
  assert.equal(ra.size, rb.size)
  assert.ok(!Buffer.from(rb.ciphertext, 'base64').toString('latin1').includes('secret'))
  assert.ok(!JSON.stringify(raw).includes('secret sentence'))
  assert.equal(rc.tombstone, true)
  assert.equal(rc.ciphertext, '')
})

test('GET /openapi.json documents every route of the contract', async () => {
  const doc = await n.ok('GET', '/api/v1/openapi.json')
  assert.match(doc.openapi, /^3\./)
  const want: Array<[string, string]> = [
    ['get', '/api/v1/health'], ['get', '/api/v1/status'], ['post', '/api/v1/unlock'], ['post', '/api/v1/lock'],
    ['get', '/api/v1/groups'], ['post', '/api/v1/groups'], ['get', '/api/v1/groups/{gid}'],
    ['post', '/api/v1/groups/{gid}/members'], ['delete', '/api/v1/groups/{gid}/members/{entityId}'],
    ['post', '/api/v1/groups/{gid}/rotate'], ['get', '/api/v1/jobs/{jobId}'],
    ['post', '/api/v1/groups/{gid}/items'], ['get', '/api/v1/groups/{gid}/items'], ['get', '/api/v1/groups/{gid}/raw'],
    ['get', '/api/v1/items/{id}'], ['put', '/api/v1/items/{id}'], ['delete', '/api/v1/items/{id}'],
    ['get', '/api/v1/search'], ['get', '/metrics']
  ]
  for (const [m, path] of want) assert.ok(doc.paths?.[path]?.[m] !== undefined, `openapi.json lacks ${m.toUpperCase()} ${path}`)
})

test('GET /metrics is Prometheus text with cairn counters', async () => {
  const r = await n.api('GET', '/metrics')
  assert.equal(r.status, 200)
  assert.match(String(r.headers.get('content-type')), /text\/plain/)
  assert.match(r.text, /^# HELP cairn_records_stored_total/m)
  assert.match(r.text, /cairn_records_stored_total\{kind="item",origin="local"\} \d+/)
})
