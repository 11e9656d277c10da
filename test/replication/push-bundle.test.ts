/**
 * Push bundles (replication/push-bundle.ts): the records of one group queued
 * together go out as one gossip message where every subscriber takes bundles,
 * and each record in a bundle is judged alone on arrival. Pure parts (framing,
 * forming messages) and the publish side over a gossipsub double; then real
 * daemons over TCP: a group commit batch reaches a keeper as one message and is
 * stored whole, and an older node's hello (no `pb`) gets plain records.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { GossipsubMessage } from '@libp2p/gossipsub'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { BUNDLE_LABEL, MAX_BUNDLE_RECORDS, encodeBundle, messageRecords, pushMessages } from '../../src/replication/push-bundle.js'
import { PushService, topicOf } from '../../src/replication/push.js'
import type { CairnLibp2p } from '../../src/replication/libp2p-node.js'
import type { Acceptor } from '../../src/groups/acceptor.js'
import { silentLogger } from '../../src/util/logger.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll, waitFor } from '../helpers/cli.js'

const rec = (n: number, size = 100): Uint8Array => { const b = new Uint8Array(size).fill(n); b[0] = 0x88; return b }

test('a bundle frame: records come back byte for byte; a record is itself; a bundle of the wrong shape is refused', () => {
  const recs = [rec(1), rec(2, 3000), rec(3)]
  assert.deepEqual(messageRecords(encodeBundle(recs), 1 << 20), recs)
  assert.deepEqual(messageRecords(recs[0]!, 1 << 20), [recs[0]], 'a plain record is one record (judged by the acceptor as ever)')
  const bad = {
    'another label': encodeCanonical(['cairn/push/bundle/v9', recs]),
    'no records': encodeCanonical([BUNDLE_LABEL, []]),
    'too many records': encodeCanonical([BUNDLE_LABEL, Array.from({ length: MAX_BUNDLE_RECORDS + 1 }, (_, i) => rec(i))]),
    'an element not bytes': encodeCanonical([BUNDLE_LABEL, [recs[0], 'x']]),
    'nested deeper': encodeCanonical([BUNDLE_LABEL, [[[recs[0]]]]]),
    'truncated': encodeBundle(recs).subarray(0, 150),
    'larger than a record may be': encodeBundle([rec(1, 900), rec(2, 900)])
  }
  for (const [why, data] of Object.entries(bad)) assert.equal(messageRecords(data, why === 'larger than a record may be' ? 1000 : 1 << 20), undefined, why)
})

test('forming messages: a group that may be bundled gets bundles (≤ 64 records, ≤ the byte bound), in order; one record, or a group that may not, goes alone', () => {
  const out = [
    ...Array.from({ length: 70 }, (_, i) => ({ gid: 'a', bytes: rec(i) })),
    { gid: 'b', bytes: rec(200) }, { gid: 'b', bytes: rec(201) },
    { gid: 'c', bytes: rec(210) }
  ]
  const msgs = pushMessages(out, g => g !== 'b', 1 << 20)
  assert.deepEqual(msgs.map(m => [m.gid, m.records]), [['a', 64], ['a', 6], ['b', 1], ['b', 1], ['c', 1]])
  assert.deepEqual(messageRecords(msgs[0]!.data, 1 << 20), out.slice(0, 64).map(o => o.bytes), 'in queue order')
  assert.equal(msgs[2]!.data, out[70]!.bytes, 'not bundled: the record itself')
  assert.equal(msgs[4]!.data, out[72]!.bytes, "a group's only record: the record itself")
  const bySize = pushMessages(Array.from({ length: 10 }, (_, i) => ({ gid: 'a', bytes: rec(i, 1000) })), () => true, 3100)
  assert.deepEqual(bySize.map(m => m.records), [3, 3, 3, 1])
  for (const m of bySize) assert.ok(m.data.length <= 3100 + 64)
})

/** The publish side of gossipsub: subscribers of a topic, and what was published. */
class PublishDouble extends EventTarget {
  readonly sent: Array<{ topic: string, data: Uint8Array }> = []
  constructor (private readonly subs: string[]) { super() }
  subscribe (): void {}
  getSubscribers (): Array<{ toString: () => string }> { return this.subs.map(p => ({ toString: () => p })) }
  async publish (topic: string, data: Uint8Array): Promise<{ recipients: Array<{ toString: () => string }> }> {
    this.sent.push({ topic, data })
    return { recipients: this.getSubscribers() }
  }
}

function publisher (subs: string[], takes: Set<string>) {
  const pubsub = new PublishDouble(subs)
  let published = 0
  const push = new PushService({
    libp2p: { services: { pubsub } } as unknown as CairnLibp2p,
    acceptor: {} as Acceptor, log: silentLogger(), onPublished: n => { published += n }, onReceived: () => {},
    relaxed: fn => fn(), takesBundles: p => takes.has(p), maxRecordBytes: 1 << 20
  })
  return { pubsub, push, published: () => published }
}

const settle = async (): Promise<void> => { for (let i = 0; i < 3; i++) await new Promise(resolve => setImmediate(resolve)) }

test('the records a task queues for one group go out as one bundle when every subscriber takes bundles; else one message each', async () => {
  const gid = '3d0b3a5e-6d0e-4c57-9a43-2b1f6f0c8a11' as GroupId
  const recs = Array.from({ length: 5 }, (_, i) => rec(i))
  const all = publisher(['k1', 'k2'], new Set(['k1', 'k2']))
  for (const r of recs) all.push.enqueue(gid, r)
  await settle()
  assert.equal(all.pubsub.sent.length, 1, 'one message for the five')
  assert.equal(all.pubsub.sent[0]!.topic, topicOf(gid))
  assert.deepEqual(messageRecords(all.pubsub.sent[0]!.data, 1 << 20), recs)
  assert.equal(all.published(), 5, 'the metric counts records')

  const older = publisher(['k1', 'old'], new Set(['k1']))
  for (const r of recs) older.push.enqueue(gid, r)
  await settle()
  assert.deepEqual(older.pubsub.sent.map(m => m.data), recs, 'a subscriber without bundles: each record as itself')
})

// ---- real daemons over TCP ----

let A: LocalNode
let K: LocalNode
let P: GroupId
const seen: Array<{ first: number, bytes: number }> = []

before(async () => {
  ;[A, K] = await Promise.all([localNode(), localNode({ keeper: true })])
  P = (await A.ok('POST', '/api/v1/groups', { name: 'bundled' })).id
  const ks = await K.ok('GET', '/api/v1/status')
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: ks.peerId, multiaddr: ks.listenAddrs[0] })
  K.daemon.net!.libp2p.services.pubsub.addEventListener('gossipsub:message', (e: CustomEvent<GossipsubMessage>) => {
    if (e.detail.msg.topic === topicOf(P)) seen.push({ first: e.detail.msg.data[0]!, bytes: e.detail.msg.data.length })
  })
})
after(async () => { await A?.stop(); await K?.stop(); await stopAll() })

const keeperItems = async (): Promise<number> => ((await K.ok('GET', '/api/v1/groups')).groups as Array<{ id: string, itemCount: number }>).find(g => g.id === P)?.itemCount ?? 0

test('a real keeper: a group commit batch of 20 writes arrives as one bundle and is stored whole, each record verified; a lone write is a plain record', { timeout: 60_000 }, async () => {
  const s = A.daemon.services
  await waitFor('A to know K takes bundles', () => A.daemon.net!.replicator.hello.info(K.daemon.net!.libp2p.peerId.toString())?.pushBundles === true, 20_000, 50)
  await waitFor('K on the topic', () => A.daemon.net!.replicator.push.subscribers(P).size > 0, 20_000, 50)
  const before = await keeperItems()
  seen.length = 0
  await Promise.all(Array.from({ length: 20 }, async (_, i) => await s.writes.submit(() => s.items.create(P, { content: `bundled ${i}` }))))
  await waitFor('K to hold the 20', async () => (await keeperItems()) === before + 20, 30_000, 50)
  assert.equal(seen.length, 1, `one gossip message for the batch, got ${seen.length}`)
  assert.equal(seen[0]!.first, 0x82, 'a bundle')
  const metrics = (await K.api('GET', '/metrics')).text
  assert.doesNotMatch(metrics, /cairn_records_rejected_total\{[^}]*reason="(bad-proof|bad-signature|malformed)"[^}]*\} [1-9]/)
  assert.match(metrics, /cairn_records_received_total\{[^}]*path="push"[^}]*\} (2\d|[3-9]\d|\d{3,})/, 'the received metric counts records, not messages')
  const gv = await K.ok('GET', `/api/v1/groups/${P}/verify`)
  assert.equal(gv.ok, true, JSON.stringify(gv.problems))
  const aMetrics = (await A.api('GET', '/metrics')).text
  assert.match(aMetrics, /cairn_push_messages_total\{kind="bundle"\} 1\b/, 'the publisher counts one bundle')

  seen.length = 0
  await A.ok('POST', `/api/v1/groups/${P}/items`, { content: 'alone' })
  await waitFor('K to hold the lone write', async () => (await keeperItems()) === before + 21, 30_000, 50)
  assert.deepEqual(seen.map(m => m.first), [0x88], 'a lone write: the record itself')
})

test('a keeper whose hello did not offer bundles (an older node) gets each record of a batch as its own message', { timeout: 60_000 }, async () => {
  const kPeer = K.daemon.net!.libp2p.peerId.toString()
  const info = A.daemon.net!.replicator.hello.info(kPeer)!
  delete (info as { pushBundles?: true }).pushBundles
  const s = A.daemon.services
  const before = await keeperItems()
  seen.length = 0
  await Promise.all(Array.from({ length: 6 }, async (_, i) => await s.writes.submit(() => s.items.create(P, { content: `plain ${i}` }))))
  await waitFor('K to hold the 6', async () => (await keeperItems()) === before + 6, 30_000, 50)
  assert.deepEqual(seen.map(m => m.first), [0x88, 0x88, 0x88, 0x88, 0x88, 0x88])
})
