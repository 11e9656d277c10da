/**
 * Opening a sync session: a fellow holder whose view of the group is behind
 * (the descriptor naming a just-added keeper has not reached it) learns the
 * newest descriptors from the initiator's second opening and lets it in, so
 * the new keeper's session with it ends well instead of "peer refused"
 * (sync-protocol.ts syncWith). In process, real libp2p over TCP, real SQLite.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import type { GroupId } from '../../src/crypto/ids.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { counterIn } from '../helpers/replication-cluster.js'
import { waitFor } from '../helpers/cli.js'

const nodes: LocalNode[] = []
after(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

// Only the sessions the test causes: no scheduled anti-entropy.
const ENV = { CAIRN_REPLICATION_TACITURN_INTERVAL_SECONDS: '86400' }
const N = 20

const peerOf = (n: LocalNode): string => n.daemon.net!.libp2p.peerId.toString()
const addrOf = (n: LocalNode): string => n.daemon.net!.libp2p.getMultiaddrs()[0]!.toString()
const keepersOn = (n: LocalNode, gid: GroupId): string[] => n.daemon.services.registry.chain(gid)?.current().k ?? []

test('a keeper added beside another syncs with it before it knows of the newcomer: the session ends well, no error recorded', { timeout: 120_000 }, async () => {
  const A = await localNode({ env: ENV })
  const K1 = await localNode({ keeper: true, env: ENV })
  const K2 = await localNode({ keeper: true, env: ENV })
  nodes.push(A, K1, K2)
  const gid = (await A.ok('POST', '/api/v1/groups', { name: 'two keepers', culture: 'taciturn' })).id as GroupId
  for (let i = 0; i < N; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `item ${i}` })
  await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: peerOf(K1), multiaddr: addrOf(K1) })
  await waitFor('K1 to hold every item', async () => K1.daemon.services.store.allOfKind(gid, 'item').length === N, 60_000)

  // From here on K1 opens no session of its own (its sync on connect with A, 1.5 s
  // after the hello, would otherwise fetch the new descriptor from A first):
  // what it learns of K2 comes from K2's opening.
  const k1 = K1.daemon.net!.replicator.scheduler
  k1.syncPeer = async peer => ({ peerId: peer, sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 0, error: 'off in this test' })
  await k1.settled()
  await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: peerOf(K2), multiaddr: addrOf(K2) })
  // K2 opens a session with K1 (a keeper in the descriptor it was delivered); nothing
  // else tells K1 of K2 (the owner delivers only to the newcomer, taciturn: no push).
  await waitFor('K1 to learn of K2 from K2\'s opening', async () => keepersOn(K1, gid).includes(peerOf(K2)), 30_000)
  const state = K2.daemon.net!.replicator.state
  await waitFor('K2 to have synced with K1', async () => state.view(gid, peerOf(K1)).lastSyncAt !== null, 60_000)
  assert.equal(state.view(gid, peerOf(K1)).lastError, null, 'K2 records no error for K1')
  const metrics = (await K2.api('GET', '/metrics')).text
  assert.equal(counterIn(metrics, 'cairn_sync_rounds_total', { role: 'initiator', result: 'error' }), 0, 'no session of K2 ended in error')
  await waitFor('K2 to hold every item', async () => K2.daemon.services.store.allOfKind(gid, 'item').length === N, 60_000)
  // K1 refused nothing it should have: no record refused on it during all this.
  assert.equal(counterIn((await K1.api('GET', '/metrics')).text, 'cairn_records_rejected_total', { origin: 'sync' }), 0)
})
