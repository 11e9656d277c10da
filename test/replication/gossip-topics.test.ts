/**
 * A peer subscribed to many topics (a keeper holding many groups) is known to
 * be subscribed to every one of them. gossipsub's defaults ignore a peer's
 * subscriptions past ~956 topics of cairn's length (its per-peer budget of
 * 1 MiB at 1,096 bytes a topic) and drop a whole RPC listing more than 5,000
 * (its decode limit): the owner of a group past those would never push to the
 * keeper, whose copy then waited for anti-entropy. Two real nodes over TCP.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { MAX_PEER_TOPICS, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { topicOf } from '../../src/replication/push.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { waitFor } from '../helpers/cli.js'
import { bareNode, stopNodes } from '../helpers/libp2p-nodes.js'

after(stopNodes)

const topics = (n: number): string[] => Array.from({ length: n }, () => topicOf(randomUUID() as GroupId))
const known = (n: CairnLibp2p, ts: string[], peer: CairnLibp2p): number => ts.filter(t => n.services.pubsub.getSubscribers(t).some(p => p.equals(peer.peerId))).length

test('a keeper subscribed to 6,000 group topics before it connects, then to 1,200 more, is known subscribed to all 7,200', { timeout: 90_000 }, async () => {
  assert.ok(MAX_PEER_TOPICS >= 7_200)
  const [owner, keeper] = [await bareNode(), await bareNode()]
  const before = topics(6_000) // sent in one RPC when the gossip stream opens: over the 5,000 decode limit
  for (const t of before) keeper.services.pubsub.subscribe(t)
  await owner.dial(keeper.getMultiaddrs()[0]!)
  await waitFor('the owner to learn the first 6,000', () => known(owner, before, keeper) === before.length)
  const later = topics(1_200) // one RPC each, past the default per-peer budget
  for (const t of later) keeper.services.pubsub.subscribe(t)
  await waitFor('the owner to learn the next 1,200', () => known(owner, later, keeper) === later.length)
  assert.equal(known(owner, [...before, ...later], keeper), 7_200)

  // and a publish on the last topic reaches the keeper
  const last = later.at(-1)!
  owner.services.pubsub.subscribe(last)
  const got: string[] = []
  keeper.services.pubsub.addEventListener('message', e => { if (e.detail.topic === last) got.push(new TextDecoder().decode(e.detail.data)) })
  const sent = await owner.services.pubsub.publish(last, new TextEncoder().encode('pushed'))
  assert.ok(sent.recipients.some(p => p.equals(keeper.peerId)), 'the publish went to the keeper')
  await waitFor('the keeper to receive it', () => got.includes('pushed'))
})
