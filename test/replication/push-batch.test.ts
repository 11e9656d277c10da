/**
 * PushService's receive path over a gossipsub double and a real Acceptor on an
 * in-memory store: the messages of one event-loop turn are verified one by
 * one and stored in one transaction (one commit per turn, not per message),
 * and each gets its own validation verdict: a forged or non-member record is
 * refused and never stored, whatever else arrived with it. A bundle's records
 * (push-bundle.ts) are judged the same way, one by one, in the same transaction.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TopicValidatorResult, type GossipsubMessage } from '@libp2p/gossipsub'
import { HybridClock } from '../../src/crypto/hlc.js'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import { Acceptor, type AcceptorEvents } from '../../src/groups/acceptor.js'
import { GroupRegistry } from '../../src/groups/registry.js'
import type { VerifiedRecord } from '../../src/records/record.js'
import { PushService, topicOf } from '../../src/replication/push.js'
import { BUNDLE_LABEL, encodeBundle } from '../../src/replication/push-bundle.js'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import type { CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { Store } from '../../src/store/store.js'
import { TypedEmitter } from '../../src/util/events.js'
import { silentLogger } from '../../src/util/logger.js'
import { T0, at, item, makeGroup, newKey } from '../helpers/records.js'

/** The part of gossipsub PushService uses: message events, subscriptions, validation verdicts. */
class FakePubsub extends EventTarget {
  readonly verdicts = new Map<string, TopicValidatorResult>()
  subscribe (): void {}
  unsubscribe (): void {}
  getSubscribers (): [] { return [] }
  reportMessageValidationResult (id: string, _from: string, r: TopicValidatorResult): void { this.verdicts.set(id, r) }
  deliver (topic: string, data: Uint8Array, id: string, from = 'peer-1'): void {
    const detail = { msgId: id, propagationSource: { toString: () => from }, msg: { type: 'unsigned', topic, data } } as unknown as GossipsubMessage
    this.dispatchEvent(new CustomEvent('gossipsub:message', { detail }))
  }
}

function setup () {
  const store = new Store<GroupId>(':memory:')
  const events = new TypedEmitter<AcceptorEvents>()
  const rejected: string[] = []
  events.on('rejected', e => rejected.push(e.reason))
  const acceptor = new Acceptor({
    store, registry: new GroupRegistry(store), clock: new HybridClock(), events,
    keepHistory: false, maxSkewMs: 60_000, maxRecordBytes: 2 * 1024 * 1024,
    adoptGroup: () => true, now: () => T0 + 1_000_000
  })
  const pubsub = new FakePubsub()
  let transactions = 0
  const push = new PushService({
    libp2p: { services: { pubsub } } as unknown as CairnLibp2p,
    acceptor, log: silentLogger(), onPublished: () => {}, onReceived: () => {},
    relaxed: fn => { transactions++; return store.relaxed(() => store.tx(fn)) }
  })
  push.start()
  return { store, acceptor, pubsub, push, rejected, transactions: () => transactions }
}

/** A group of `owner`'s, held by the node, its topic subscribed. */
function held (s: ReturnType<typeof setup>) {
  const owner = newKey()
  const g = makeGroup(owner)
  s.acceptor.ingest(g.descs, 'sync')
  s.push.subscribe(g.gid)
  return { owner, g, topic: topicOf(g.gid) }
}

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)); await new Promise(resolve => setImmediate(resolve)) }
const forged = (r: VerifiedRecord): Uint8Array => { const b = new Uint8Array(r.bytes); b[b.length - 5]! ^= 0x55; return b }

test('messages of one turn: one transaction; each verified and judged alone; forged and non-member records rejected and not stored', async () => {
  const s = setup()
  const { owner, g, topic } = held(s)
  const good = [1, 2, 3].map(i => item(g, owner, at(10 + i)))
  const badSig = item(g, owner, at(20))
  const stranger = item(g, newKey(), at(21))
  s.pubsub.deliver(topic, good[0]!.bytes, 'good-0')
  s.pubsub.deliver(topic, forged(badSig), 'forged')
  s.pubsub.deliver(topic, good[1]!.bytes, 'good-1', 'peer-2')
  s.pubsub.deliver(topic, stranger.bytes, 'stranger')
  s.pubsub.deliver(topicOf(newGroupId()), good[2]!.bytes, 'other-topic')
  s.pubsub.deliver(topic, good[2]!.bytes, 'good-2')
  assert.equal(s.pubsub.verdicts.size, 0, 'judged once the turn ends, not as each arrives')
  await turn()
  assert.equal(s.transactions(), 1, 'one transaction for the turn')
  assert.deepEqual(Object.fromEntries(s.pubsub.verdicts), {
    'good-0': TopicValidatorResult.Accept,
    forged: TopicValidatorResult.Reject,
    'good-1': TopicValidatorResult.Accept,
    // Not a member as far as this node knows: its view may be behind (a member
    // added meanwhile), so Ignore (not forwarded, sender's score untouched).
    stranger: TopicValidatorResult.Ignore,
    'other-topic': TopicValidatorResult.Ignore,
    'good-2': TopicValidatorResult.Accept
  })
  for (const r of good) assert.ok(s.store.getHead(g.gid, r.recordId) !== undefined, 'a valid record is stored')
  assert.equal(s.store.getHead(g.gid, badSig.recordId), undefined, 'a forged record is never stored')
  assert.equal(s.store.getHead(g.gid, stranger.recordId), undefined, "a non-member's record is never stored")
  assert.deepEqual(s.rejected.sort(), ['bad-signature', 'not-a-member'])
  assert.equal(s.store.db.pragma('synchronous', { simple: true }), 2, 'the connection is back to FULL')

  // A later turn: its own transaction; a message already stored is a duplicate (Ignore, not forwarded again).
  s.pubsub.deliver(topic, good[0]!.bytes, 'good-0-again')
  await turn()
  assert.equal(s.transactions(), 2)
  assert.equal(s.pubsub.verdicts.get('good-0-again'), TopicValidatorResult.Ignore)
  s.push.stop()
  s.store.close()
})

test('bundles: each record judged alone in the turn\'s one transaction; a bundle with a forged record is Reject (its good records stored); a malformed bundle is refused whole', async () => {
  const s = setup()
  const { owner, g, topic } = held(s)
  const good = [1, 2, 3, 4].map(i => item(g, owner, at(10 + i)))
  const badSig = item(g, owner, at(20))
  const stranger = item(g, newKey(), at(21))
  s.pubsub.deliver(topic, encodeBundle([good[0]!.bytes, good[1]!.bytes]), 'bundle-good')
  s.pubsub.deliver(topic, encodeBundle([good[2]!.bytes, forged(badSig)]), 'bundle-forged')
  s.pubsub.deliver(topic, encodeBundle([stranger.bytes, good[3]!.bytes]), 'bundle-stranger')
  s.pubsub.deliver(topic, encodeCanonical([BUNDLE_LABEL, [good[0]!.bytes, 7]]), 'bundle-malformed')
  s.pubsub.deliver(topic, good[0]!.bytes, 'single-after')
  await turn()
  assert.equal(s.transactions(), 1, 'one transaction for the turn, bundles included')
  assert.deepEqual(Object.fromEntries(s.pubsub.verdicts), {
    'bundle-good': TopicValidatorResult.Accept,
    'bundle-forged': TopicValidatorResult.Reject,
    'bundle-stranger': TopicValidatorResult.Accept,
    'bundle-malformed': TopicValidatorResult.Reject,
    'single-after': TopicValidatorResult.Ignore
  })
  for (const r of good) assert.ok(s.store.getHead(g.gid, r.recordId) !== undefined, 'every valid record is stored, bundled with a bad one or not')
  assert.equal(s.store.getHead(g.gid, badSig.recordId), undefined)
  assert.equal(s.store.getHead(g.gid, stranger.recordId), undefined)
  assert.deepEqual(s.rejected.sort(), ['bad-signature', 'malformed', 'not-a-member'])

  s.pubsub.deliver(topic, encodeBundle([good[0]!.bytes, good[1]!.bytes]), 'bundle-again')
  await turn()
  assert.equal(s.pubsub.verdicts.get('bundle-again'), TopicValidatorResult.Ignore, 'nothing new: not forwarded again')
  s.push.stop()
  s.store.close()
})

test('messages arriving after stop() are ignored, not stored', async () => {
  const s = setup()
  const { owner, g, topic } = held(s)
  const r = item(g, owner, at(10))
  s.pubsub.deliver(topic, r.bytes, 'late')
  s.push.stop()
  await turn()
  assert.equal(s.pubsub.verdicts.get('late'), TopicValidatorResult.Ignore)
  assert.equal(s.store.getHead(g.gid, r.recordId), undefined)
  s.store.close()
})
