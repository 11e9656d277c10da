/**
 * Late subscribers (sync-scheduler.ts): a group peer connected but not yet
 * subscribed to the group's topic when a record was published missed it by
 * push; its subscription triggers one sync of that group with it at once. A
 * subscriber a publish was not sent to (gossipsub had no open stream to it yet)
 * is synced a moment later, once per burst.
 * Pure scheduling logic, with doubles for the services it drives.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { GroupId } from '../../src/crypto/ids.js'
import { SyncScheduler, type SyncSchedulerDeps } from '../../src/replication/sync-scheduler.js'

const G = '0b7c2a3e-4f51-4d6a-9e2b-1c3d4e5f6a7b' as GroupId
const H = '1c8d3b4f-5062-4e7b-8f3c-2d4e5f6a7b8c' as GroupId

function harness (peers: string[], connected: string[]) {
  const subs = new Map<GroupId, Set<string>>()
  let onSub: ((peer: string, gid: GroupId) => void) | undefined
  const sessions: string[] = []
  const d = {
    registry: { chain: () => ({ current: () => ({ cul: 'chatty' }) }), groupIds: () => [G, H] },
    chattyIntervalMs: 60_000,
    taciturnIntervalMs: 3_600_000,
    sync: () => ({ syncWith: async (p: { toString: () => string }, gid: GroupId) => { sessions.push(`${p.toString()}/${gid}`); return { peerId: p.toString(), sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 1 } } }),
    dialer: { connected: (p: string) => connected.includes(p), ensureConnected: async () => {}, mayDial: () => false },
    state: { failed: () => {} },
    push: { subscribe: () => {}, subscribers: (gid: GroupId) => subs.get(gid) ?? new Set(), onSubscribed: (fn: (peer: string, gid: GroupId) => void) => { onSub = fn } },
    groupPeers: () => peers,
    selfPeerId: () => 'self'
  } as unknown as SyncSchedulerDeps
  const s = new SyncScheduler(d)
  const subscribe = async (peer: string, gid: GroupId): Promise<void> => {
    subs.set(gid, (subs.get(gid) ?? new Set()).add(peer))
    onSub!(peer, gid)
    await s.settled()
  }
  return { s, subs, sessions, subscribe }
}

// Real peer IDs: syncPeer parses them.
const K1 = '12D3KooWRmGjdo9gmV5c1Ffv1tshFLrSJtgVjVnUqAbGeHWaQSRB'
const K2 = '12D3KooWRp2D6U3haN8tqGg7NSS5sawzMKQrpbcDjisNUn93cosR'
const OFF = '12D3KooWMKfjqcwHtsj5oDHMgpYBKdnbaDXNNs9LWTp68Qj6erCX'

test('a connected group peer that was not subscribed when a record went out is synced once when its subscription arrives', async () => {
  const h = harness([K1, K2, OFF], [K1, K2])
  h.subs.set(G, new Set([K2])) // K2 got the push; K1's subscription is still on its way; OFF is not connected
  h.s.published(G)
  h.s.published(G) // two records missed: still one session
  await h.subscribe(K2, G)
  assert.deepEqual(h.sessions, [], 'K2 had the push: no session')
  await h.subscribe(K1, G)
  assert.deepEqual(h.sessions, [`${K1}/${G}`])
  await h.subscribe(K1, G)
  assert.deepEqual(h.sessions, [`${K1}/${G}`], 'owed once, synced once')
  await h.subscribe(OFF, G)
  assert.deepEqual(h.sessions, [`${K1}/${G}`], 'a peer that was not connected gets its sync on connect, not here')
})

test('a subscription with nothing missed, or to another group, starts no session; a forgotten group owes nothing', async () => {
  const h = harness([K1], [K1])
  await h.subscribe(K1, G)
  assert.deepEqual(h.sessions, [])
  h.s.published(H)
  await h.subscribe(K1, G)
  assert.deepEqual(h.sessions, [], 'the push missed was of H, not G')
  h.s.forget(H)
  await h.subscribe(K1, H)
  assert.deepEqual(h.sessions, [], 'H ended here')
})

test('a subscriber a publish left out (no gossip stream to it yet) is synced once, a moment after a burst of writes; one it reached is not', async () => {
  const h = harness([K1, K2], [K1, K2])
  h.subs.set(G, new Set([K1, K2]))
  for (let i = 0; i < 50; i++) h.s.published(G, new Set([K2])) // K1's subscription was read, its stream was not open yet
  assert.deepEqual(h.sessions, [], 'not at once: the rest of the burst rides along')
  await new Promise(resolve => setTimeout(resolve, 1500))
  await h.s.settled()
  assert.deepEqual(h.sessions, [`${K1}/${G}`], 'one session for the burst, with K1 only')
  h.s.published(G, new Set([K1, K2]))
  h.s.published(G, undefined) // a skipped publish (an empty mesh): the missed-subscription rule alone applies
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.deepEqual(h.sessions, [`${K1}/${G}`], 'both reached: nothing more')
  h.s.published(G, new Set())
  await h.s.stop()
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.deepEqual(h.sessions, [`${K1}/${G}`], 'a stop cancels a pending one')
})
