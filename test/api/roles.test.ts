/**
 * Roles enforced on every call. A second entity (another person's node) owns a
 * group and delivers it, with a key envelope, to this node — the same records
 * replication would bring — naming this node's entity viewer, then member, then
 * admin. The HTTP API must refuse what each role may not do with 403.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { HybridClock } from '../../src/crypto/hlc.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { entityIdFromPublicKey, newGroupId, publicKeyFromEntityId, type GroupId } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { sealName, signDescriptor, type Role } from '../../src/records/descriptor.js'
import { sealItem } from '../../src/records/item.js'
import { sealKeyEnvelope } from '../../src/records/key-envelope.js'
import { decodeRecord, type VerifiedRecord } from '../../src/records/record.js'
import type { Descriptor } from '../../src/groups/descriptor-chain.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll } from '../helpers/cli.js'
import { assertErrorEnvelope } from '../helpers/http.js'

const other = generateSigningKey() // the other person's entity
const otherId = entityIdFromPublicKey(other.publicKey)
const clock = new HybridClock()
const key = randomBytes(32)
const gid: GroupId = newGroupId()
const NAME = 'a group owned by someone else'
let n: LocalNode
let me: Uint8Array
let head: Descriptor
let theirItem: VerifiedRecord

before(async () => {
  n = await localNode()
  me = publicKeyFromEntityId(n.entityId!)
  head = signDescriptor(other, gid, clock.tick(), {
    ver: 1, p: new Uint8Array(0), cul: 'chatty', ao: false, kv: 1,
    m: [[other.publicKey, 'owner'], [me, 'viewer']], k: [], nm: sealName(gid, 1, key, NAME), nkv: 1
  })
  const acc = n.daemon.services.acceptor
  assert.equal(acc.ingest([decodeRecord(head.bytes)], 'delivery')[0]!.status, 'stored')
  assert.equal(acc.ingest([sealKeyEnvelope(other, gid, clock.tick(), 1, me, key).bytes], 'delivery')[0]!.status, 'stored')
  theirItem = sealItem({ signer: other, groupId: gid, clock: clock.tick(), keyVersion: 1, key, plain: { type: 'note', content: 'written by the owner', meta: null, createdAt: clock.peek() } })
  assert.equal(acc.ingest([theirItem.bytes], 'push')[0]!.status, 'stored')
})
after(async () => { await n?.stop(); await stopAll() })

function setMyRole (role: Role): void {
  const next = signDescriptor(other, gid, clock.tick(), { ...head.rec.b, ver: head.rec.b.ver + 1, p: head.hash, m: [[other.publicKey, 'owner'], [me, role]] })
  assert.equal(n.daemon.services.acceptor.ingest([next.bytes], 'delivery')[0]!.status, 'stored')
  head = next
}

test('as a viewer: the group, its name and its items are readable', async () => {
  const g = await n.ok('GET', `/api/v1/groups/${gid}`)
  assert.equal(g.role, 'viewer')
  assert.equal(g.name, NAME)
  assert.deepEqual(g.members.map((m: any) => [m.entityId, m.role]).sort(), [[n.entityId, 'viewer'], [otherId, 'owner']].sort())
  const list = await n.ok('GET', `/api/v1/groups/${gid}/items`)
  assert.equal(list.items.length, 1)
  assert.equal(list.items[0].content, 'written by the owner')
  assert.equal(list.items[0].author, otherId)
  assert.equal((await n.ok('GET', `/api/v1/items/${theirItem.recordId}`)).content, 'written by the owner')
})

test('as a viewer: writing, editing, deleting, managing members and rotating → 403 FORBIDDEN, and nothing changes', async () => {
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${gid}/items`, { content: 'viewer write' }), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('PUT', `/api/v1/items/${theirItem.recordId}`, { content: 'viewer edit' }), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('DELETE', `/api/v1/items/${theirItem.recordId}`), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${gid}/members`, { entityId: entityIdFromPublicKey(generateSigningKey().publicKey), role: 'member' }), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('DELETE', `/api/v1/groups/${gid}/members/${otherId}`), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${gid}/rotate`), 403, 'FORBIDDEN')
  const list = await n.ok('GET', `/api/v1/groups/${gid}/items`)
  assert.deepEqual(list.items.map((i: any) => i.content), ['written by the owner'])
  assert.equal((await n.ok('GET', `/api/v1/groups/${gid}`)).descriptorVersion, head.rec.b.ver)
})

test('as a member: own items may be written and edited; another author\'s item may not be edited or deleted (403)', async () => {
  setMyRole('member')
  const mine = await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'member write' })
  assert.equal(mine.author, n.entityId)
  assert.equal((await n.ok('PUT', `/api/v1/items/${mine.id}`, { content: 'member edit' })).id, mine.id)
  assertErrorEnvelope(await n.api('PUT', `/api/v1/items/${theirItem.recordId}`, { content: 'not mine' }), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('DELETE', `/api/v1/items/${theirItem.recordId}`), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${gid}/rotate`), 403, 'FORBIDDEN')
  assert.equal((await n.ok('GET', `/api/v1/items/${theirItem.recordId}`)).content, 'written by the owner')
})

test('as an admin: another author\'s item may be edited; owner rights may not be granted (403)', async () => {
  setMyRole('admin')
  const r = await n.ok('PUT', `/api/v1/items/${theirItem.recordId}`, { content: 'edited by an admin' })
  assert.equal(r.author, otherId, 'the author stays the original author')
  const got = await n.ok('GET', `/api/v1/items/${theirItem.recordId}`)
  assert.equal(got.content, 'edited by an admin')
  assert.deepEqual(got.provenance.map((p: any) => p.action), ['created', 'modified'])
  assert.equal(got.provenance[1].by, n.entityId)
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${gid}/members`, { entityId: entityIdFromPublicKey(generateSigningKey().publicKey), role: 'owner' }), 403, 'FORBIDDEN')
  assertErrorEnvelope(await n.api('DELETE', `/api/v1/groups/${gid}/members/${otherId}`), 403, 'FORBIDDEN')
})

test('a record forged by an outsider is not stored and does not show up', async () => {
  const mallory = generateSigningKey()
  const forged = sealItem({ signer: mallory, groupId: gid, clock: clock.tick(), keyVersion: 1, key, plain: { type: 'note', content: 'forged', meta: null, createdAt: clock.peek() } })
  const res = n.daemon.services.acceptor.ingest([forged.bytes], 'push')[0]!
  assert.equal(res.status, 'rejected')
  assert.equal(res.reason, 'not-a-member')
  assertErrorEnvelope(await n.api('GET', `/api/v1/items/${forged.recordId}`), 404, 'NOT_FOUND')
})

test('after an admin rotates the key, another author\'s item still reads, with its author', async () => {
  const fresh = sealItem({ signer: other, groupId: gid, clock: clock.tick(), keyVersion: head.rec.b.kv, key, plain: { type: 'note', content: 'owner item before rotation', meta: null, createdAt: clock.peek() } })
  assert.equal(n.daemon.services.acceptor.ingest([fresh.bytes], 'push')[0]!.status, 'stored')
  const rot = await n.api('POST', `/api/v1/groups/${gid}/rotate`)
  assert.equal(rot.status, 202)
  const job = await n.daemon.services.jobs.settle(rot.json.jobId)
  assert.equal(job?.state, 'done')
  const it = await n.ok('GET', `/api/v1/items/${fresh.recordId}`)
  assert.equal(it.content, 'owner item before rotation')
  assert.equal(it.keyVersion, head.rec.b.kv + 1)
  assert.equal(it.author, otherId)
})

test('after an admin\'s re-encryption, provenance still shows the item created by its author, with the author\'s signature', async () => {
  const fresh = sealItem({ signer: other, groupId: gid, clock: clock.tick(), keyVersion: n.daemon.services.registry.chain(gid)!.current().kv, key: n.daemon.services.groups.keyFor(gid, n.daemon.services.registry.chain(gid)!.current().kv), plain: { type: 'note', content: 'provenance check', meta: null, createdAt: clock.peek() } })
  assert.equal(n.daemon.services.acceptor.ingest([fresh.bytes], 'push')[0]!.status, 'stored')
  const rot = await n.ok('POST', `/api/v1/groups/${gid}/rotate`)
  assert.equal((await n.daemon.services.jobs.settle(rot.jobId))?.state, 'done')
  const it = await n.ok('GET', `/api/v1/items/${fresh.recordId}`)
  assert.equal(it.provenance[0].action, 'created')
  assert.equal(it.provenance[0].by, otherId, `provenance says created by ${it.provenance[0].by}`)
  assert.equal(it.provenance[0].hash, Buffer.from(fresh.hash).toString('hex'))
})
