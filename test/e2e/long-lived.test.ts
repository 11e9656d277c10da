/**
 * A long-lived node keeps its network (SPEC §4), end to end with real processes:
 *
 *   A   agent; its personal group P has keepers K1 and K2 (added with addresses)
 *   K1  keeper, restarted on the same address while A writes
 *   K2  keeper
 *
 * A is restarted without --bootstrap after SIGTERM and after SIGKILL: its
 * address book brings both keepers back, and 50 writes reach both with no dial
 * by hand. K1 stopped while A writes shows disconnected and behind in
 * GET /groups/:gid/replication, then catches up to behind 0 by itself.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stopAll, waitFor } from '../helpers/cli.js'
import { ClusterNode, fixedListen, initAsync, launch, relaunch, stopCluster } from '../helpers/replication-cluster.js'

const LOOP = ['/ip4/127.0.0.1/tcp/0']
let A: ClusterNode
let K1: ClusterNode
let K2: ClusterNode
let P: string

const rowOf = async (n: ClusterNode, gid: string, peer: string): Promise<any> => {
  const r = await n.ok('GET', `/api/v1/groups/${gid}/replication`)
  return r.peers.find((p: any) => p.peerId === peer)
}

async function write (n: ClusterNode, gid: string, count: number, tag: string): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push((await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: `${tag} ${i}`, type: 'note' })).id)
  return ids
}

async function holdsAll (k: ClusterNode, gid: string, ids: string[]): Promise<boolean> {
  const r = await k.api('GET', `/api/v1/groups/${gid}/raw?limit=1000`)
  if (r.status !== 200) return false
  const have = new Set(r.json.items.map((i: any) => i.id))
  return ids.every(id => have.has(id))
}

before(async () => {
  const [a, k1, k2] = await Promise.all([initAsync(), initAsync({ keeper: true }), initAsync({ keeper: true })])
  ;[A, K1, K2] = await Promise.all([
    launch(a.dataDir, { name: 'A', listen: LOOP }),
    launch(k1.dataDir, { name: 'K1', keeper: true, listen: LOOP }),
    launch(k2.dataDir, { name: 'K2', keeper: true, listen: LOOP })
  ])
  // Keepers restart on the same port: what A's address book holds stays true.
  K1.startOptions!.listen = fixedListen(K1)
  K2.startOptions!.listen = fixedListen(K2)
  P = a.personalGroupId!
})

after(async () => { await stopCluster(); await stopAll() })

test('add keeper with an address: the keeper holds the group within a second (ceiling here 10 s)', async (t) => {
  for (const k of [K1, K2]) {
    const t0 = performance.now()
    await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: k.peerId, multiaddr: k.addr })
    await waitFor(`${k.name} to adopt P`, async () => (await k.api('GET', `/api/v1/groups/${P}`)).status === 200, 10_000, 20)
    const ms = performance.now() - t0
    t.diagnostic(`${k.name} adopted P ${ms.toFixed(0)} ms after the POST was sent`)
    // The bench reports the figure; here a generous ceiling catches the old two-timeout wait (20 s).
    assert.ok(ms < 10_000, `${k.name} adopted after ${ms.toFixed(0)} ms`)
  }
  const ids = await write(A, P, 5, 'first')
  for (const k of [K1, K2]) await waitFor(`${k.name} to hold the first writes`, async () => await holdsAll(k, P, ids), 20_000)
  await waitFor('both keepers delivered, connected, in sync', async () => {
    const rows = (await A.ok('GET', `/api/v1/groups/${P}/replication`)).peers
    return rows.length === 2 && rows.every((r: any) => r.kind === 'keeper' && r.connected && r.delivered && r.behind === 0 && r.lastSyncAt !== null)
  }, 30_000, 200)
})

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`restart after ${signal} without --bootstrap: 50 writes reach both keepers with no dial by hand`, async () => {
    await A.stop(signal)
    A = await relaunch(A) // same data dir, a new port, no bootstrap
    await waitFor('A reconnected to both keepers', async () => {
      const peers = (await A.ok('GET', '/api/v1/peers')).peers.map((p: any) => p.peerId)
      return peers.includes(K1.peerId) && peers.includes(K2.peerId)
    }, 20_000, 100)
    const ids = await write(A, P, 50, `after ${signal}`)
    // Push carries them in well under a second here. A keeper whose topic subscription
    // was still on its way to the restarted node when the writes went out (seen under
    // CI load) is synced as soon as it arrives (sync-scheduler.ts, late subscribers),
    // not at the next anti-entropy round a chatty interval (60 s) later: the ceiling
    // is a loaded box's margin below that interval.
    for (const k of [K1, K2]) await waitFor(`${k.name} to hold the 50 writes`, async () => await holdsAll(k, P, ids), 30_000, 100)
  })
}

test('a keeper stopped while A writes shows disconnected and behind, then catches up to behind 0 by itself', async () => {
  await K1.stop('SIGTERM')
  await waitFor('A to see K1 disconnected', async () => (await rowOf(A, P, K1.peerId))?.connected === false, 10_000, 100)
  const ids = await write(A, P, 20, 'while K1 is down')
  const down = await rowOf(A, P, K1.peerId)
  assert.equal(down.connected, false)
  assert.ok(down.behind >= 20, `K1 behind ${down.behind} after 20 writes it missed`)
  assert.equal((await rowOf(A, P, K2.peerId)).connected, true)
  K1 = await relaunch(K1)
  await waitFor('K1 to catch up with no user action', async () => await holdsAll(K1, P, ids), 30_000, 100)
  await waitFor('A to show K1 connected and behind 0', async () => {
    const r = await rowOf(A, P, K1.peerId)
    return r?.connected === true && r.behind === 0 && r.lastError === null
  }, 30_000, 200)
})

test('the daemon logs what it does at info, in words: peers, deliveries, syncs, and that it stopped', () => {
  const lines = readFileSync(join(A.dataDir, 'cairn.log'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as { level: number, msg: string })
  const info = lines.filter(l => l.level === 30).map(l => l.msg)
  for (const want of [/^peer …\w{6} connected \(keeper\)$/, /^group \w{8} delivered to …\w{6}$/, /^synced group \w{8} with …\w{6}: sent \d+, received \d+$/, /^peer …\w{6} disconnected$/, /^cairn node stopped$/, /^cairn node …\w{6} started: API on /]) {
    assert.ok(info.some(m => want.test(m)), `no info line like ${want}; have:\n${[...new Set(info)].slice(0, 40).join('\n')}`)
  }
})
