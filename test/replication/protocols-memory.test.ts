/**
 * hello, deliver and sync without a network: each service runs on a MemoryHost
 * (test/helpers/memory-net.ts), streams are in-memory pairs, stores are
 * ":memory:" SQLite, the Acceptor is the real one. What a whole-daemon test
 * shows over TCP, shown here in milliseconds: a binding is learnt only when it
 * is signed for the peer it came from; a delivered chain is adopted only by a
 * node it lists, and the sender hears why not; a sync moves exactly the
 * difference both ways and stores nothing a gate refuses.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { HybridClock } from '../../src/crypto/hlc.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import type { SigningKey } from '../../src/crypto/sign.js'
import { Acceptor, type AcceptorEvents } from '../../src/groups/acceptor.js'
import { keeperAdoption } from '../../src/groups/adoption.js'
import { GroupRegistry } from '../../src/groups/registry.js'
import { sealName, signDescriptor, type DescBody, type Role } from '../../src/records/descriptor.js'
import { sealItem } from '../../src/records/item.js'
import type { VerifiedRecord } from '../../src/records/record.js'
import { DeliverService } from '../../src/replication/deliver.js'
import { HelloService, signBindingStatement, type PeerInfo } from '../../src/replication/hello.js'
import { IndexCache } from '../../src/replication/index-cache.js'
import { SyncService } from '../../src/replication/sync-protocol.js'
import { Verifier } from '../../src/replication/verifier.js'
import { Store } from '../../src/store/store.js'
import { TypedEmitter } from '../../src/util/events.js'
import { silentLogger } from '../../src/util/logger.js'
import { MemoryHost, MemoryNet } from '../helpers/memory-net.js'
import { newKey } from '../helpers/records.js'

const log = silentLogger()
const TIMEOUT = 5000
const stores: Store[] = []
after(() => { for (const s of stores) s.close() })

interface Node { host: MemoryHost, store: Store<GroupId>, acceptor: Acceptor, events: TypedEmitter<AcceptorEvents>, rejected: string[] }

async function node (net: MemoryNet, o: { keeper?: boolean, adopt?: (h: DescBody) => boolean } = {}): Promise<Node> {
  const host = await MemoryHost.create(net)
  const store = new Store<GroupId>(':memory:')
  stores.push(store)
  const events = new TypedEmitter<AcceptorEvents>()
  const rejected: string[] = []
  events.on('rejected', e => rejected.push(e.reason))
  const acceptor = new Acceptor({
    store, registry: new GroupRegistry(store), clock: new HybridClock(), events, keepHistory: o.keeper !== true,
    maxSkewMs: 60_000, maxRecordBytes: 2 * 1024 * 1024,
    adoptGroup: o.adopt ?? (o.keeper === true ? keeperAdoption(host.peerId.toString(), []) : () => true)
  })
  return { host, store, acceptor, events, rejected }
}

const asLibp2p = <T>(h: MemoryHost): T => h as unknown as T

/** The sync index kept current from the Acceptor's events, as the Replicator keeps it. */
function currentIndexes (n: Node): IndexCache {
  const ix = new IndexCache(n.store)
  n.events.on('stored', ({ record, previousHash }) => ix.added(record.groupId, record.hash, previousHash))
  return ix
}

/** A sync service on a node that lets every peer sync every group it holds. */
const syncOf = (n: Node, onRecords?: (bytes: number) => void): SyncService => new SyncService({
  libp2p: asLibp2p(n.host), store: n.store, acceptor: n.acceptor, indexes: currentIndexes(n), verifier: new Verifier(1),
  authorize: () => true, holds: gid => n.store.getGroup(gid) !== undefined,
  timeoutMs: TIMEOUT, maxMessageBytes: 4 * 1024 * 1024, maxRecordBytes: 2 * 1024 * 1024, log, onRecords
})

function group (owner: SigningKey, o: { keepers?: string[], members?: Array<[SigningKey, Role]> } = {}): { gid: GroupId, key: Uint8Array, head: VerifiedRecord<DescBody> } {
  const gid = newGroupId()
  const key = randomBytes(32)
  const head = signDescriptor(owner, gid, new HybridClock().tick(), {
    ver: 1, p: new Uint8Array(0), cul: 'taciturn', ao: false, kv: 1,
    m: [[owner.publicKey, 'owner'], ...(o.members ?? []).map(([k, r]) => [k.publicKey, r] as [Uint8Array, Role])],
    k: o.keepers ?? [], nm: sealName(gid, 1, key, 'memory net'), nkv: 1
  })
  return { gid, key, head }
}

const items = (g: { gid: GroupId, key: Uint8Array }, signer: SigningKey, n: number, clock = new HybridClock()): Array<VerifiedRecord> =>
  Array.from({ length: n }, (_, i) => { const c = clock.tick(); return sealItem({ signer, groupId: g.gid, clock: c, keyVersion: 1, key: g.key, plain: { type: 'note', content: `item ${i}`, meta: null, createdAt: c } }) })

test('hello: each side learns the other\'s entity binding; a binding signed for another peer ID is refused and counted', async () => {
  const net = new MemoryNet()
  const a = await MemoryHost.create(net)
  const b = await MemoryHost.create(net)
  const mallory = await MemoryHost.create(net)
  const alice = newKey(); const bob = newKey()
  const seen = { a: [] as PeerInfo[], b: [] as PeerInfo[] }
  const bad: string[] = []
  const ha = new HelloService({ libp2p: asLibp2p(a), keeper: false, binding: () => signBindingStatement(alice, a.peerId.toString()), onPeer: i => seen.a.push(i), onBad: p => bad.push(p) })
  const hb = new HelloService({ libp2p: asLibp2p(b), keeper: true, binding: () => undefined, onPeer: i => seen.b.push(i), onBad: p => bad.push(p) })
  // Mallory replays Bob's binding, which names Bob's peer ID, not Mallory's.
  const hm = new HelloService({ libp2p: asLibp2p(mallory), keeper: false, binding: () => signBindingStatement(bob, b.peerId.toString()), onPeer: () => {}, onBad: () => {} })
  await Promise.all([ha.start(), hb.start(), hm.start()])
  a.connected(b)
  await waitUntil(() => seen.a.length === 1 && seen.b.length === 1)
  assert.equal(seen.b[0]!.peerId, a.peerId.toString())
  assert.deepEqual(seen.b[0]!.entity, alice.publicKey, 'the keeper learnt which entity node A serves')
  assert.equal(seen.a[0]!.keeper, true)
  assert.equal(seen.a[0]!.entity, undefined, 'a keeper serves no entity')
  mallory.connected(b)
  await waitUntil(() => bad.length > 0)
  assert.deepEqual(bad, [mallory.peerId.toString()])
  assert.equal(hb.info(mallory.peerId.toString()), undefined)
  assert.deepEqual(hb.peersOfEntity(bob.publicKey), [])
})

test('hello: a stream that arrives before the peer\'s hello waits for it (known), and a peer that never says hello is not waited for past the limit', async () => {
  const net = new MemoryNet()
  const a = await MemoryHost.create(net)
  const b = await MemoryHost.create(net)
  const silent = await MemoryHost.create(net)
  const alice = newKey()
  const ha = new HelloService({ libp2p: asLibp2p(a), keeper: false, binding: () => signBindingStatement(alice, a.peerId.toString()), onPeer: () => {}, onBad: () => {} })
  const hb = new HelloService({ libp2p: asLibp2p(b), keeper: true, binding: () => undefined, onPeer: () => {}, onBad: () => {} })
  await Promise.all([ha.start(), hb.start()])
  a.connected(b)
  // Right at connect nothing is known yet: a sync opened now would be refused on info() alone.
  assert.equal(hb.info(a.peerId.toString()), undefined)
  const info = await hb.known(a.peerId.toString())
  assert.deepEqual(info?.entity, alice.publicKey, 'known() waited for the hello on its way')
  assert.deepEqual((await hb.known(a.peerId.toString(), 0))?.entity, alice.publicKey, 'once known, at once')
  silent.connected(b)
  const t0 = Date.now()
  assert.equal(await hb.known(silent.peerId.toString(), 300), undefined)
  assert.ok(Date.now() - t0 < 5000, 'the wait ends at its limit')
})

test('deliver: a keeper listed in the chain adopts the group; one that is not answers "refused" with the reason, and stores nothing', async () => {
  const net = new MemoryNet()
  const owner = await node(net)
  const listed = await node(net, { keeper: true })
  const other = await node(net, { keeper: true })
  const alice = newKey()
  const g = group(alice, { keepers: [listed.host.peerId.toString()] })
  const services = [owner, listed, other].map(n => new DeliverService({ libp2p: asLibp2p(n.host), acceptor: n.acceptor, timeoutMs: TIMEOUT, log }))
  await Promise.all(services.map(async s => { await s.start() }))
  const ok = await services[0]!.deliver(listed.host.peerId, [g.head.bytes])
  assert.deepEqual(ok, { stored: 1, status: 'ok' })
  assert.equal(listed.store.getGroup(g.gid)?.state, 'active')
  const no = await services[0]!.deliver(other.host.peerId, [g.head.bytes])
  assert.deepEqual(no, { stored: 0, status: 'refused', reason: 'not-for-us' })
  assert.equal(other.store.getGroup(g.gid), undefined)
  assert.deepEqual(other.rejected, ['not-for-us'])
})

test('sync: two nodes that each hold records the other lacks end with the union; the session moves only the difference', async () => {
  const net = new MemoryNet()
  const a = await node(net)
  const k = await node(net, { keeper: true })
  const alice = newKey()
  const g = group(alice, { keepers: [k.host.peerId.toString()] })
  const clock = new HybridClock()
  const shared = items(g, alice, 50, clock)
  const onlyA = items(g, alice, 7, clock)
  const onlyK = items(g, alice, 3, clock)
  assert.ok(a.acceptor.ingest([g.head, ...shared, ...onlyA], 'local').every(r => r.status === 'stored'))
  assert.ok(k.acceptor.ingest([g.head.bytes, ...shared.map(r => r.bytes), ...onlyK.map(r => r.bytes)], 'delivery').every(r => r.status === 'stored'))
  // The bytes of records each side received (what paces the node's full GCs, util/gc-pacer.ts).
  const got = { a: 0, k: 0 }
  const sa = syncOf(a, b => { got.a += b }); const sk = syncOf(k, b => { got.k += b })
  await Promise.all([sa.start(), sk.start()])
  const report = await sa.syncWith(k.host.peerId, g.gid)
  assert.equal(report.error, undefined)
  assert.equal(report.sent, 7)
  assert.equal(report.received, 3)
  for (const n of [a, k]) assert.equal(n.store.countGroupRecords(g.gid), 1 + 50 + 7 + 3)
  const bytesOf = (rs: VerifiedRecord[]): number => rs.reduce((t, r) => t + r.bytes.length, 0)
  assert.ok(got.a >= bytesOf(onlyK) && got.a < bytesOf(onlyK) + 64, `a received ${got.a} B of records messages for ${bytesOf(onlyK)} B of records`)
  assert.ok(got.k >= bytesOf(onlyA) && got.k < bytesOf(onlyA) + 64, `k received ${got.k} B for ${bytesOf(onlyA)} B`)
  const again = await sa.syncWith(k.host.peerId, g.gid)
  assert.deepEqual([again.sent, again.received], [0, 0], 'a second session finds nothing to move')
  assert.ok(got.a < bytesOf(onlyK) + 64 && got.k < bytesOf(onlyA) + 64, 'a session that moves nothing reports no record bytes')
})

test('sync: records a gate refuses are not stored on the receiver, and counted there by reason', async () => {
  const net = new MemoryNet()
  const a = await node(net)
  const k = await node(net, { keeper: true })
  const alice = newKey(); const outsider = newKey()
  const g = group(alice, { keepers: [k.host.peerId.toString()] })
  // The sender's store holds an outsider's item (as if written around the gates).
  a.acceptor.ingest([g.head], 'local')
  const forged = items(g, outsider, 2)
  for (const r of forged) {
    a.store.putHead({ gid: r.groupId, rid: r.recordId, kind: 'item', clock: r.rec.c, kv: 1, signer: Buffer.from(r.rec.s), author: Buffer.from(r.rec.s), tomb: 0, hash: Buffer.from(r.hash), bytes: Buffer.from(r.bytes), size: r.bytes.length, received: 0 })
  }
  k.acceptor.ingest([g.head.bytes], 'delivery')
  const sa = syncOf(a); const sk = syncOf(k)
  await Promise.all([sa.start(), sk.start()])
  const report = await sa.syncWith(k.host.peerId, g.gid)
  assert.equal(report.error, undefined)
  // Both forged items went over; a range sent whole may also carry the descriptor the keeper holds.
  assert.ok(report.sent >= 2 && report.sent <= 4, `sent ${report.sent}`)
  assert.equal(k.store.countGroupRecords(g.gid), 1, 'the keeper stored only the descriptor')
  // Deferred as "behind" during the session, counted at its end, for this reason only. (A
  // refused record still differs after its round, so a later round can send it again, in
  // roughly 1 run of 30 here; the whole-daemon test counts a refusal once per session.)
  assert.ok(k.rejected.length >= 2 && k.rejected.every(r => r === 'not-a-member'), k.rejected.join(', '))
})

async function waitUntil (cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
