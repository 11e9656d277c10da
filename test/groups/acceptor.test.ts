/**
 * The Acceptor: the one path into the store, for local writes and records from
 * peers alike. Bad records are refused with a reason and counted, never stored;
 * last-writer-wins holds whatever order versions arrive in; deletions are not
 * resurrected by older versions.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from '../../src/crypto/hash.js'
import { HybridClock, makeClock } from '../../src/crypto/hlc.js'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import { sealItem, type ItemBody } from '../../src/records/item.js'
import type { VerifiedRecord } from '../../src/records/record.js'
import type { SigningKey } from '../../src/crypto/sign.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll, waitFor } from '../helpers/cli.js'

let n: LocalNode
let gid: GroupId
let me: SigningKey
let key: Uint8Array
const clock = new HybridClock()

before(async () => {
  n = await localNode()
  gid = (await n.ok('POST', '/api/v1/groups', { name: 'acceptor' })).id
  me = n.daemon.services.vault!.entityKey()
  key = n.daemon.services.groups.keyFor(gid, 1)
})
after(async () => { await n?.stop(); await stopAll() })

const version = (content: string | null, existing?: VerifiedRecord<ItemBody>, at = clock.tick(), group: GroupId = gid): VerifiedRecord<ItemBody> => sealItem({
  signer: me, groupId: group, clock: at, keyVersion: 1, key,
  plain: content === null ? null : { type: 'note', content, meta: null, createdAt: at },
  ...(existing !== undefined ? { existing: { author: existing.rec.b.a, nonce: existing.rec.b.n, prevHash: existing.hash } } : {})
})
const accept = (r: VerifiedRecord | Uint8Array, origin: 'push' | 'sync' = 'push') => n.daemon.services.acceptor.ingest([r instanceof Uint8Array ? r : r.bytes], origin)[0]!

test('versions arriving out of order: the newest wins, an older one is refused as a replay, a repeat is a duplicate', async () => {
  const v1 = version('first')
  const v2 = version('second', v1)
  const v3 = version('third', v2)
  assert.equal(accept(v3).status, 'stored')
  assert.deepEqual(accept(v1), { status: 'stale', reason: 'replay' })
  assert.deepEqual(accept(v2), { status: 'stale', reason: 'replay' })
  assert.equal(accept(v3).status, 'duplicate')
  assert.equal((await n.ok('GET', `/api/v1/items/${v3.recordId}`)).content, 'third')
})

test('a deletion is not undone by an older version arriving later', async () => {
  const v1 = version('alive')
  const v2 = version('edited', v1)
  const tomb = version(null, v2)
  assert.equal(accept(v1).status, 'stored')
  assert.equal(accept(tomb, 'sync').status, 'stored')
  assert.equal(accept(v2, 'sync').status, 'stale')
  assert.equal((await n.api('GET', `/api/v1/items/${v1.recordId}`)).status, 404)
})

test('tampered, truncated, oversized and foreign-group records are refused with a reason and counted in /metrics', async () => {
  const good = version('good')
  const flipped = new Uint8Array(good.bytes); flipped[flipped.length - 100]! ^= 1
  const truncated = good.bytes.subarray(0, good.bytes.length - 10)
  const results = [
    accept(flipped), accept(truncated), accept(randomBytes(400)), accept(new Uint8Array(3 * 1024 * 1024)),
    accept(version('elsewhere', undefined, clock.tick(), newGroupId())),
    accept(version('from the future', undefined, makeClock(Date.now() + 3_600_000)))
  ]
  assert.deepEqual(results.map(r => r.status), Array(6).fill('rejected'))
  assert.ok(['bad-signature', 'malformed'].includes(results[0]!.reason!))
  assert.equal(results[1]!.reason, 'malformed')
  assert.equal(results[3]!.reason, 'too-large')
  assert.equal(results[4]!.reason, 'unknown-group')
  assert.equal(results[5]!.reason, 'future-clock')
  const m = await n.api('GET', '/metrics')
  for (const reason of ['malformed', 'too-large', 'unknown-group', 'future-clock']) {
    assert.match(m.text, new RegExp(`cairn_records_rejected_total\\{reason="${reason}",origin="push"\\} [1-9]`), reason)
  }
  // none was stored: the tampered copies share the good record's ID, which is unknown here
  assert.equal((await n.api('GET', `/api/v1/items/${good.recordId}`)).status, 404)
  assert.equal((await n.ok('GET', '/api/v1/health')).status, 'ok')
})

test('a sync batch is judged record by record: good ones are stored, bad ones refused, in one call', async () => {
  const a = version('batch a')
  const b = version('batch b')
  const bad = new Uint8Array(b.bytes); bad[20]! ^= 0xff
  const res = n.daemon.services.acceptor.ingest([a.bytes, bad, b.bytes, a.bytes], 'sync')
  assert.deepEqual(res.map(r => r.status), ['stored', 'rejected', 'stored', 'duplicate'])
  assert.equal((await n.ok('GET', `/api/v1/items/${b.recordId}`)).content, 'batch b')
})

test('one sync batch carrying several versions of the same items, in any order, beside items already held: the newest of each is what is stored', async () => {
  const a1 = version('a1'); const a2 = version('a2', a1)
  const b1 = version('b1'); const b2 = version('b2', b1); const b3 = version('b3', b2)
  const c1 = version('c1'); const c2 = version('c2', c1); const c3 = version('c3', c2)
  const d1 = version('d1')
  const fresh = Array.from({ length: 6 }, (_, i) => version(`fresh ${i}`))
  assert.equal(accept(a1).status, 'stored')
  assert.equal(accept(d1).status, 'stored')
  // Large enough that the batch's heads are read in one statement, before any is stored.
  const batch = [a2, b1, b2, b3, c3, c1, c2, d1, ...fresh, b3]
  const res = n.daemon.services.acceptor.ingest(batch.map(r => r.bytes), 'sync')
  assert.deepEqual(res.map(r => r.status), ['stored', 'stored', 'stored', 'stored', 'stored', 'stale', 'stale', 'duplicate', ...fresh.map(() => 'stored'), 'duplicate'])
  for (const [r, want] of [[a1, 'a2'], [b1, 'b3'], [c1, 'c3'], [d1, 'd1'], [fresh[5]!, 'fresh 5']] as const) {
    assert.equal((await n.ok('GET', `/api/v1/items/${r.recordId}`)).content, want)
  }
})

test('a sync batch replacing held versions keeps each one it replaces, byte for byte, as history (copied inside the store, never read out)', () => {
  const store = n.daemon.services.store
  const v1 = Array.from({ length: 10 }, (_, i) => version(`first ${i}`))
  for (const r of v1) assert.equal(accept(r).status, 'stored')
  const v2 = v1.map((r, i) => version(`second ${i}`, r))
  // Large enough that the batch's heads are read in one statement, without their bytes.
  assert.deepEqual(n.daemon.services.acceptor.ingest(v2.map(r => r.bytes), 'sync').map(r => r.status), v2.map(() => 'stored'))
  v1.forEach((r, i) => {
    const h = store.history(gid, r.recordId)
    assert.deepEqual(h.map(x => [x.clock, Buffer.from(x.hash).toString('hex'), Buffer.from(x.bytes).toString('hex')]), [[r.rec.c, Buffer.from(r.hash).toString('hex'), Buffer.from(r.bytes).toString('hex')]], `item ${i}: its first version is its history`)
    assert.deepEqual(Buffer.from(store.getHead(gid, r.recordId)!.hash), Buffer.from(v2[i]!.hash))
  })
})

test('an append-only group\'s entries re-encrypted in one step of more than a few: the gate reads each replaced entry from the store and lets the re-encryptions in', async () => {
  const ao = (await n.ok('POST', '/api/v1/groups', { name: 'ledger', appendOnly: true })).id
  for (let i = 0; i < 12; i++) await n.ok('POST', `/api/v1/groups/${ao}/items`, { content: `entry ${i}` })
  const { jobId } = await n.ok('POST', `/api/v1/groups/${ao}/rotate`)
  const job = await waitFor('the re-encryption', async () => { const j = await n.ok('GET', `/api/v1/jobs/${jobId}`); return j.state === 'done' || j.state === 'failed' ? j : undefined })
  assert.deepEqual([job.state, job.done, job.error], ['done', 12, undefined])
  const v = await n.ok('GET', `/api/v1/groups/${ao}/verify`)
  assert.equal(v.ok, true, JSON.stringify(v.problems))
  assert.ok((await n.ok('GET', `/api/v1/groups/${ao}/raw?limit=100`)).items.every((r: any) => r.keyVersion === 2))
})
