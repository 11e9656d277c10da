/**
 * gossipsub across a replaced connection (replication/gossip-streams.ts): two
 * real libp2p nodes over TCP, a second connection opened between them, the
 * first one closed. gossipsub's outbound streams ran on the first: without the
 * repair, neither side sends the other anything more (no message, no new
 * subscription) until they fully disconnect.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import type { CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { waitFor } from '../helpers/cli.js'
import { bareNode, stopNodes } from '../helpers/libp2p-nodes.js'

after(stopNodes)

const subscribed = (n: CairnLibp2p, topic: string, peer: CairnLibp2p): boolean => n.services.pubsub.getSubscribers(topic).some(p => p.equals(peer.peerId))

test('after the connection gossipsub used is replaced by another, a new subscription and a publish still reach the peer', { timeout: 60_000 }, async () => {
  const [a, b] = [await bareNode(), await bareNode()]
  for (const n of [a, b]) n.services.pubsub.subscribe('t1')
  const first = await a.dial(b.getMultiaddrs()[0]!)
  await waitFor('each to see the other subscribed to t1', () => subscribed(a, 't1', b) && subscribed(b, 't1', a))
  const second = await b.dial(a.getMultiaddrs()[0]!, { force: true })
  assert.notEqual(second.id, first.id)
  await waitFor('both connections open on both sides', () => a.getConnections(b.peerId).length === 2 && b.getConnections(a.peerId).length === 2)
  await first.close()
  await waitFor('the first connection gone on both sides', () => a.getConnections(b.peerId).length === 1 && b.getConnections(a.peerId).length === 1)

  b.services.pubsub.subscribe('t2')
  await waitFor('a to learn that b subscribed to t2 (sent on b\'s new outbound stream)', () => subscribed(a, 't2', b))
  const got: string[] = []
  b.services.pubsub.addEventListener('message', e => { got.push(new TextDecoder().decode(e.detail.data)) })
  await a.services.pubsub.publish('t1', new TextEncoder().encode('after the replacement'))
  await waitFor('b to receive a\'s publish', () => got.includes('after the replacement'))
})
