/**
 * /cairn/sync/1.1.0 (IBLT opening) beside /cairn/sync/1.0.0, between real
 * nodes (in process, libp2p over TCP, SQLite): two 1.1.0 nodes settle a small
 * difference with the IBLT; a node that serves only 1.0.0 (an older release:
 * its 1.1.0 handler removed) is still synced, over 1.0.0.
 *
 * Set-up: a taciturn group (no gossipsub push, the periodic sync put off for
 * a day), so the items written after the keeper caught up reach it only by
 * the on-demand sync the test asks for.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/cli.js'
import { SYNC_PROTOCOL, SYNC_PROTOCOL_1_1 } from '../../src/replication/sync-protocol.js'

const nodes: LocalNode[] = []
after(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

const ENV = { CAIRN_REPLICATION_TACITURN_INTERVAL_SECONDS: '86400' }

/** The protocols A's sync streams were negotiated to (multistream-select's pick). */
function watchProtocols (n: LocalNode): string[] {
  const seen: string[] = []
  const libp2p = n.daemon.net!.libp2p
  const dial = libp2p.dialProtocol.bind(libp2p)
  libp2p.dialProtocol = (async (...a: Parameters<typeof dial>) => {
    const s = await dial(...a)
    if (s.protocol?.startsWith('/cairn/sync/') === true) seen.push(s.protocol)
    return s
  }) as typeof dial
  return seen
}

const ibltCount = (m: { text: string }, result: string): number =>
  m.text.split('\n').filter(l => l.startsWith(`cairn_sync_iblt_total{result="${result}"}`)).reduce((a, l) => a + Number(l.split(' ').pop()), 0)

async function pair (oldKeeper: boolean): Promise<{ A: LocalNode, K: LocalNode, gid: string, seen: string[] }> {
  const A = await localNode({ env: ENV }); nodes.push(A)
  const K = await localNode({ keeper: true, env: ENV }); nodes.push(K)
  if (oldKeeper) await K.daemon.net!.libp2p.unhandle(SYNC_PROTOCOL_1_1)
  const seen = watchProtocols(A)
  const gid = (await A.ok('POST', '/api/v1/groups', { name: oldKeeper ? 'old keeper' : 'new keeper', culture: 'taciturn' })).id as string
  for (let i = 0; i < 30; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `before ${i}` })
  await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: K.daemon.net!.libp2p.peerId.toString(), multiaddr: K.daemon.net!.libp2p.getMultiaddrs()[0]!.toString() })
  await waitFor('the keeper to hold the first items', async () => {
    const r = await K.api('GET', `/api/v1/groups/${gid}/raw?limit=1000`)
    return r.status === 200 && (r.json as { items: unknown[] }).items.length >= 30
  }, 60_000)
  return { A, K, gid, seen }
}

async function syncTen (A: LocalNode, K: LocalNode, gid: string): Promise<{ roundTrips: number }> {
  const before = (await K.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000`)).items.length as number
  for (let i = 0; i < 10; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `after ${i}` })
  const r = await A.ok('POST', `/api/v1/groups/${gid}/sync`)
  const p = r.peers.find((x: { peerId: string }) => x.peerId === K.daemon.net!.libp2p.peerId.toString())
  assert.ok(p !== undefined, `a session with the keeper: ${JSON.stringify(r)}`)
  assert.equal(p.error, undefined, `sync failed: ${p.error}`)
  const after = (await K.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000`)).items.length as number
  assert.equal(after, before + 10, 'the keeper holds the 10 new records after the session')
  return p
}

test('two 1.1.0 nodes: a sync negotiates /cairn/sync/1.1.0 and settles 10 new records in 2 round trips (the IBLT peeled)', { timeout: 120_000 }, async () => {
  const { A, K, gid, seen } = await pair(false)
  const peeled = ibltCount(await K.api('GET', '/metrics'), 'peeled')
  const p = await syncTen(A, K, gid)
  assert.ok(seen.length > 0 && seen.every(x => x === SYNC_PROTOCOL_1_1), `negotiated: ${seen.join(', ')}`)
  assert.equal(p.roundTrips, 2)
  assert.ok(ibltCount(await K.api('GET', '/metrics'), 'peeled') > peeled, 'the keeper settled the difference from the IBLT')
})

test('a keeper that serves only /cairn/sync/1.0.0 is still synced by a 1.1.0 node, over 1.0.0', { timeout: 120_000 }, async () => {
  const { A, K, gid, seen } = await pair(true)
  await syncTen(A, K, gid)
  assert.ok(seen.length > 0 && seen.every(x => x === SYNC_PROTOCOL), `negotiated: ${seen.join(', ')}`)
  assert.equal(ibltCount(await K.api('GET', '/metrics'), 'peeled') + ibltCount(await K.api('GET', '/metrics'), 'fallback'), 0, 'no IBLT reached the old keeper')
})
