/**
 * The Acceptor over an in-memory store (no network, no daemon): one entry,
 * `ingest(batch, origin, opts)`, whatever the origin. A batch can carry a whole
 * group (descriptors first, whatever order they came in); a group that does not
 * list this node is refused whole; records refused because our view is behind
 * are returned uncounted when the caller defers them, and stored on retry;
 * every rule the gates' header names holds here, the append-only one included.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HybridClock } from '../../src/crypto/hlc.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import type { SigningKey } from '../../src/crypto/sign.js'
import { Acceptor, type AcceptorEvents, type StoredEvent } from '../../src/groups/acceptor.js'
import { onStored } from '../../src/groups/record-rules.js'
import { GroupRegistry } from '../../src/groups/registry.js'
import { sealName, signDescriptor, type DescBody, type Role } from '../../src/records/descriptor.js'
import { sealKeyEnvelope } from '../../src/records/key-envelope.js'
import type { VerifiedRecord } from '../../src/records/record.js'
import { Store } from '../../src/store/store.js'
import { TypedEmitter } from '../../src/util/events.js'
import { T0, at, item, newKey, type TestGroup } from '../helpers/records.js'
import { DescriptorChain } from '../../src/groups/descriptor-chain.js'

function memoryAcceptor (adopt: (head: DescBody) => boolean = () => true) {
  const store = new Store<GroupId>(':memory:')
  const events = new TypedEmitter<AcceptorEvents>()
  const rejected: Array<AcceptorEvents['rejected']> = []
  const stored: StoredEvent[] = []
  events.on('rejected', e => rejected.push(e))
  events.on('stored', e => stored.push(e))
  const acceptor = new Acceptor({
    store, registry: new GroupRegistry(store), clock: new HybridClock(), events,
    keepHistory: true, maxSkewMs: 60_000, maxRecordBytes: 2 * 1024 * 1024,
    adoptGroup: adopt, now: () => T0 + 1_000_000
  })
  return { store, events, acceptor, rejected, stored }
}

interface Group extends TestGroup { descs: Array<VerifiedRecord<DescBody>> }

function group (owner: SigningKey, members: Array<[SigningKey, Role]> = [], ao = false): Group {
  const gid = newGroupId()
  const key = randomBytes(32)
  const d = signDescriptor(owner, gid, at(0), {
    ver: 1, p: new Uint8Array(0), cul: 'chatty', ao, kv: 1,
    m: [[owner.publicKey, 'owner'], ...members.map(([k, r]) => [k.publicKey, r] as [Uint8Array, Role])],
    k: [], nm: sealName(gid, 1, key, 'memory'), nkv: 1
  })
  return { gid, keys: new Map([[1, key]]), chain: new DescriptorChain([d]), descs: [d] }
}

function next (g: Group, signer: SigningKey, ms: number, changes: Partial<DescBody>): VerifiedRecord<DescBody> {
  const head = g.descs[g.descs.length - 1]!
  const d = signDescriptor(signer, g.gid as GroupId, at(ms), { ...head.rec.b, ...changes, ver: head.rec.b.ver + 1, p: head.hash })
  g.descs.push(d)
  g.chain.append(d)
  return d
}

test('a whole group in one batch, in any order: descriptors go first, everything is stored, the group is added once', () => {
  const m = memoryAcceptor()
  const owner = newKey(); const bob = newKey()
  const g = group(owner)
  const v2 = next(g, owner, 100, { m: [[owner.publicKey, 'owner'], [bob.publicKey, 'member']] })
  const byBob = item(g, bob, at(200))
  const byOwner = item(g, owner, at(50))
  let added = 0
  m.events.on('group-added', () => { added++ })
  const res = m.acceptor.ingest([byBob.bytes, v2, byOwner, g.descs[0]!.bytes], 'delivery', { peer: 'p1' })
  assert.deepEqual(res.map(r => r.status), ['stored', 'stored', 'stored', 'stored'])
  assert.equal(added, 1)
  assert.equal(m.store.getHeadMeta(g.gid, byBob.recordId)?.kind, 'item')
  assert.deepEqual(m.stored.filter(e => e.record.rec.t === 'desc').map(e => (e.record.rec.b as DescBody).ver), [1, 2])
  assert.deepEqual(m.rejected, [])
})

test('a group whose chain does not list this node is refused whole, counted once per record, and nothing is stored', () => {
  const m = memoryAcceptor(() => false)
  const owner = newKey()
  const g = group(owner)
  const it = item(g, owner, at(10))
  const res = m.acceptor.ingest([g.descs[0]!, it], 'delivery', { peer: 'p2' })
  assert.deepEqual(res, [{ status: 'rejected', reason: 'not-for-us' }, { status: 'rejected', reason: 'unknown-group' }])
  assert.deepEqual(m.rejected.map(e => [e.reason, e.peer]), [['not-for-us', 'p2'], ['unknown-group', 'p2']])
  assert.equal(m.store.listGroups().length, 0)
  assert.equal(m.store.getHeadMeta(g.gid, it.recordId), undefined)
})

test('deferBehind: a record our view is not ready for is returned uncounted, and stored once its descriptor is here', () => {
  const m = memoryAcceptor()
  const owner = newKey(); const bob = newKey()
  const g = group(owner)
  assert.equal(m.acceptor.ingest([g.descs[0]!], 'sync')[0]!.status, 'stored')
  const v2 = next(g, owner, 100, { m: [[owner.publicKey, 'owner'], [bob.publicKey, 'member']] })
  const early = item(g, bob, at(200))
  assert.deepEqual(m.acceptor.ingest([early], 'sync', { deferBehind: true }), [{ status: 'rejected', reason: 'not-a-member' }])
  assert.equal(m.rejected.length, 0, 'a deferred rejection is not counted')
  // Without deferBehind the same refusal is counted.
  m.acceptor.ingest([early], 'sync')
  assert.deepEqual(m.rejected.map(e => e.reason), ['not-a-member'])
  assert.equal(m.acceptor.ingest([v2], 'sync')[0]!.status, 'stored')
  assert.equal(m.acceptor.ingest([early], 'sync', { deferBehind: true })[0]!.status, 'stored')
})

test('a batch bound to one group refuses records of another as malformed; refused entries are counted like the rest', () => {
  const m = memoryAcceptor()
  const owner = newKey()
  const g = group(owner)
  const h = group(owner)
  m.acceptor.ingest([g.descs[0]!, h.descs[0]!], 'local')
  const res = m.acceptor.ingest([item(h, owner, at(10)), item(g, owner, at(11)), { refused: 'bad-signature' }], 'push', { group: g.gid, peer: 'p3' })
  assert.deepEqual(res.map(r => [r.status, r.reason]), [['rejected', 'malformed'], ['stored', undefined], ['rejected', 'bad-signature']])
  assert.deepEqual(m.rejected.map(e => [e.reason, e.origin, e.peer]), [['malformed', 'push', 'p3'], ['bad-signature', 'push', 'p3']])
})

test('append-only: a stored entry is never replaced by another version, while its own copy is a duplicate', () => {
  const m = memoryAcceptor()
  const owner = newKey()
  const g = group(owner, [], true)
  m.acceptor.ingest([g.descs[0]!], 'local')
  const v1 = item(g, owner, at(10))
  const v2 = item(g, owner, at(20), { existing: v1 })
  assert.equal(m.acceptor.ingest([v1], 'sync')[0]!.status, 'stored')
  assert.deepEqual(m.acceptor.ingest([v1.bytes], 'sync')[0], { status: 'duplicate' })
  assert.deepEqual(m.acceptor.ingest([v2], 'sync')[0], { status: 'rejected', reason: 'append-only' })
  assert.deepEqual(m.store.getHeadMeta(g.gid, v1.recordId)?.hash, Buffer.from(v1.hash))
})

test('garbage, truncated and oversized bytes are refused with their decode reason; the store stays empty', () => {
  const m = memoryAcceptor()
  const owner = newKey()
  const g = group(owner)
  const good = g.descs[0]!.bytes
  const sigFlip = new Uint8Array(good); sigFlip[sigFlip.length - 5]! ^= 1
  const res = m.acceptor.ingest([randomBytes(300), good.subarray(0, good.length - 3), sigFlip, new Uint8Array(3 * 1024 * 1024)], 'push')
  assert.deepEqual(res.map(r => r.reason), ['malformed', 'malformed', 'bad-signature', 'too-large'])
  assert.equal(m.store.listGroups().length, 0)
})

test("a stored record sets off its kind's effects only (record-rules.ts): a key envelope reaches 'key-envelope', an item 'searchable'", () => {
  const m = memoryAcceptor()
  const owner = newKey(); const bob = newKey()
  const g = group(owner, [[bob, 'member']])
  const seen: Array<[string, string]> = []
  onStored(m.events, 'key-envelope', e => seen.push(['key-envelope', e.record.rec.t]))
  onStored(m.events, 'searchable', e => seen.push(['searchable', e.record.rec.t]))
  m.acceptor.ingest([g.descs[0]!, sealKeyEnvelope(owner, g.gid, at(5), 1, bob.publicKey, g.keys.get(1)!), item(g, bob, at(6))], 'delivery')
  assert.deepEqual(seen, [['key-envelope', 'key'], ['searchable', 'item']])
})
