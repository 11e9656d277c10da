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

function harness (peers: string[], connected: string[], owed = new Map<string, number>()) {
  const subs = new Map<GroupId, Set<string>>()
  let onSub: ((peer: string, gid: GroupId) => void) | undefined
  const sessions: string[] = []
  const d = {
    registry: { chain: () => ({ current: () => ({ cul: 'chatty' }) }), groupIds: () => [G, H] },
    chattyIntervalMs: 60_000,
    taciturnIntervalMs: 3_600_000,
    sync: () => ({ sessions: { get: () => undefined }, syncWith: async (p: { toString: () => string }, gid: GroupId) => { sessions.push(`${p.toString()}/${gid}`); return { peerId: p.toString(), sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 1 } } }),
    dialer: { connected: (p: string) => connected.includes(p), ensureConnected: async () => {}, mayDial: () => false },
    state: { failed: () => {} },
    push: { subscribe: () => {}, subscribers: (gid: GroupId) => subs.get(gid) ?? new Set(), onSubscribed: (fn: (peer: string, gid: GroupId) => void) => { onSub = fn } },
    groupPeers: () => peers,
    selfPeerId: () => 'self',
    owed: (p: string, gid: GroupId) => owed.get(`${p}/${gid}`)
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

test('a scheduled run skips a peer the group was reconciled with (by either side) within 0.9 interval; a run brought forward does not', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const h = harness([K1, K2], [K1, K2])
  h.s.runDue(Date.now()) // first sight: both groups scheduled within one interval
  t.mock.timers.tick(60_001)
  h.s.runDue(Date.now())
  await h.s.settled()
  assert.deepEqual(h.sessions.sort(), [`${K1}/${G}`, `${K1}/${H}`, `${K2}/${G}`, `${K2}/${H}`].sort(), 'every pair once')
  h.sessions.length = 0
  t.mock.timers.tick(30_000)
  h.s.sessionDone(K1, G) // K1's timer came first: its session with us for G just ended
  t.mock.timers.tick(30_001)
  h.s.runDue(Date.now())
  await h.s.settled()
  assert.deepEqual(h.sessions.sort(), [`${K1}/${H}`, `${K2}/${G}`, `${K2}/${H}`].sort(), 'K1/G was reconciled 30 s ago: not again')
  h.sessions.length = 0
  h.s.changed(G) // a record of G stored here since
  t.mock.timers.tick(60_001)
  h.s.runDue(Date.now())
  await h.s.settled()
  assert.ok(h.sessions.includes(`${K1}/${G}`), 'a pair not met for an interval, with a change since, is synced again')
  h.sessions.length = 0
  h.s.sessionDone(K1, G)
  h.s.soon(G, 0)
  h.s.runDue(Date.now())
  await h.s.settled()
  assert.deepEqual(h.sessions.sort(), [`${K1}/${G}`, `${K2}/${G}`].sort(), 'brought forward (a rotation): every peer, however recent')
})

test('at most 8 sessions of ours with one peer at a time: the rest wait and all run', async () => {
  const h = harness([K1], [K1])
  let running = 0
  let most = 0
  const d = (h.s as unknown as { d: { sync: () => unknown } }).d
  d.sync = () => ({
    syncWith: async (p: { toString: () => string }) => {
      running++; most = Math.max(most, running)
      await new Promise(resolve => setTimeout(resolve, 20))
      running--
      return { peerId: p.toString(), sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 1 }
    }
  })
  const gids = Array.from({ length: 30 }, (_, i) => `0b7c2a3e-4f51-4d6a-9e2b-${String(i).padStart(12, '0')}` as GroupId)
  const reports = await Promise.all(gids.map(async g => await h.s.syncPeer(K1, g)))
  assert.equal(reports.filter(r => r.error === undefined).length, 30, 'every session ran')
  assert.equal(most, 8)
})

test('a connected group peer whose subscription never comes is synced a moment after the publish, once per burst; one that subscribes in time is synced once, at its subscription', async () => {
  const h = harness([K1, K2], [K1, K2])
  for (let i = 0; i < 20; i++) h.s.published(G) // neither is subscribed: K1's subscription was lost, K2's is on its way
  await h.subscribe(K2, G)
  assert.deepEqual(h.sessions, [`${K2}/${G}`], 'K2 at its subscription')
  await new Promise(resolve => setTimeout(resolve, 1500))
  await h.s.settled()
  assert.deepEqual(h.sessions, [`${K2}/${G}`, `${K1}/${G}`], 'K1 a second later, once for the burst; K2 not again')
  await h.subscribe(K1, G)
  assert.equal(h.sessions.length, 2, 'its late subscription owes nothing more')
  h.s.published(H)
  h.s.forget(H)
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.equal(h.sessions.length, 2, 'a group forgotten meanwhile is not synced')
})

test('a quiet group costs no session: a scheduled run skips a peer when nothing of the group was stored here since their last session began, for up to 10 intervals', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 5_000_000 })
  const h = harness([K1, K2], [K1, K2])
  h.s.runDue(Date.now())
  const round = async (): Promise<string[]> => {
    h.sessions.length = 0
    t.mock.timers.tick(60_001)
    h.s.runDue(Date.now())
    await h.s.settled()
    return [...h.sessions].sort()
  }
  h.s.changed(G)
  h.s.changed(H)
  assert.equal((await round()).length, 4, 'first round: every pair')
  const start = Date.now()
  t.mock.timers.tick(1000)
  for (const p of [K1, K2]) for (const g of [G, H]) h.s.sessionDone(p, g, start) // those sessions ended well
  t.mock.timers.tick(60_000)
  assert.deepEqual(await round(), [], 'nothing stored since: no session')
  h.s.changed(G) // e.g. a record pushed by K2
  assert.deepEqual(await round(), [`${K1}/${G}`, `${K2}/${G}`].sort(), 'a change of G: G with each peer; H still quiet')
  let met: number | undefined
  for (let i = 0; i < 12 && met === undefined; i++) if ((await round()).includes(`${K1}/${H}`)) met = Date.now() - start
  assert.ok(met !== undefined && met > 540_000 && met <= 661_000, `a quiet pair still meets once 10 intervals have passed (after ${met} ms)`)
})

test('a peer still owed the group\'s delivery (a keeper just added, the outbox not there yet) is not synced by a publish or a scheduled run; once it is delivered, or the delivery failed 3 times, it is', async (t) => {
  const owed = new Map([[`${K1}/${G}`, 0]])
  const h = harness([K1, K2], [K1, K2], owed)
  h.s.published(G) // the descriptor that adds K1: neither keeper is subscribed yet
  await new Promise(resolve => setTimeout(resolve, 1500))
  await h.s.settled()
  assert.deepEqual(h.sessions, [`${K2}/${G}`], 'K1 would refuse (it does not hold the group yet): no session with it')
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const run = async (): Promise<string[]> => {
    h.sessions.length = 0
    h.s.soon(G, 0)
    h.s.runDue(Date.now())
    await h.s.settled()
    return h.sessions.sort()
  }
  owed.set(`${K1}/${G}`, 2)
  assert.deepEqual(await run(), [`${K2}/${G}`], 'not in a run brought forward either, while its delivery failed fewer than 3 times')
  owed.set(`${K1}/${G}`, 3)
  assert.deepEqual(await run(), [`${K1}/${G}`, `${K2}/${G}`].sort(), 'failed 3 times (K1 may hold the group from another member and refuse ours): a session tries')
  owed.delete(`${K1}/${G}`) // delivered (its onDelivered syncs it at once; the schedule includes it again)
  assert.deepEqual(await run(), [`${K1}/${G}`, `${K2}/${G}`].sort())
})

test('a group just adopted is filled from one peer (a connected one first; the next when it fails), then met with the others at once; no scheduled run meanwhile', async () => {
  const h = harness([OFF, K1, K2], [K1, K2])
  const log: string[] = []
  let running = 0
  let most = 0
  const fail = new Set([K1])
  const d = (h.s as unknown as { d: { sync: () => unknown, dialer: { mayDial: () => boolean } } }).d
  d.dialer.mayDial = () => true // OFF may be dialled: it is tried after the connected peers
  d.sync = () => ({
    sessions: { get: () => undefined },
    syncWith: async (p: { toString: () => string }) => {
      const id = p.toString()
      log.push(`start ${id}`)
      running++; most = Math.max(most, running)
      await new Promise(resolve => setTimeout(resolve, 30))
      running--
      log.push(`end ${id}`)
      return { peerId: id, sent: 0, received: 100, bytes: 0, reconcileBytes: 0, roundTrips: 1, ...(fail.has(id) ? { error: 'stream reset' } : {}) }
    }
  })
  const filled = h.s.adopted(G)
  await new Promise(resolve => setTimeout(resolve, 10))
  h.s.runDue(Date.now() + 3_600_000) // the group's timer comes due while it fills
  await filled
  assert.deepEqual(log.slice(0, 4), [`start ${K1}`, `end ${K1}`, `start ${K2}`, `end ${K2}`], 'K1 (connected) first, alone; it failed, so K2 (connected), alone')
  assert.deepEqual(log.slice(4), [`start ${OFF}`, `end ${OFF}`], 'then the rest (OFF, to be dialled); K1 is not asked again in the fill')
  assert.equal(most, 1, 'never two sessions for the group at once: the scheduled run waited')
  log.length = 0
  fail.clear()
  const all = new Set([OFF, K1, K2])
  await h.s.adopted(H)
  assert.deepEqual(log.slice(0, 2), [`start ${K1}`, `end ${K1}`], 'the first alone')
  assert.deepEqual(new Set(log.slice(2).filter(x => x.startsWith('start')).map(x => x.slice(6))), new Set([...all].filter(p => p !== K1)), 'then both others')
  assert.equal(most, 2, 'the others at once')
})

test('a group just adopted fills from the peer already syncing it with us (its delivery\'s session), not from one more', async () => {
  const h = harness([K1, K2], [K1, K2])
  const log: string[] = []
  const d = (h.s as unknown as { d: { sync: () => unknown } }).d
  d.sync = () => ({
    sessions: { get: (p: string, _g: GroupId, role: string) => p === K2 && role === 'responder' ? Promise.resolve() : undefined },
    syncWith: async (p: { toString: () => string }) => {
      log.push(p.toString())
      await new Promise(resolve => setTimeout(resolve, 10))
      return { peerId: p.toString(), sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 1 }
    }
  })
  await h.s.adopted(G)
  assert.deepEqual(log, [K2, K1], 'K2 runs its session with us for G: it goes first, K1 after it')
})
