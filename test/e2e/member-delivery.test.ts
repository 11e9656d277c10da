/**
 * Adding a member without an address, end to end with real processes: the
 * owner's node finds the member's node and retries until the group lands, and
 * GET /groups/:gid/replication shows where it stands meanwhile.
 *
 *   K      keeper of both A's and M's personal groups (their shared keeper)
 *   A      owner of the shared groups
 *   M      member reachable only through K (locate protocol); it runs no DHT, or A
 *          could learn of it from K's routing table before the test (it did, under load)
 *   D, N   N reachable only through the DHT: A and N both know D (bootstrap),
 *          D holds no group of either, so it answers no locate request
 *   O      member whose node is offline when added (address given), started later
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { stopAll, waitFor } from '../helpers/cli.js'
import { ClusterNode, initAsync, launch, stopCluster } from '../helpers/replication-cluster.js'

const LOOP = ['/ip4/127.0.0.1/tcp/0']
let A: ClusterNode
let K: ClusterNode
let M: ClusterNode
let D: ClusterNode
let N: ClusterNode

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0)) })
  })
}

const memberRow = async (gid: string, entityId: string): Promise<any> =>
  (await A.ok('GET', `/api/v1/groups/${gid}/replication`)).peers.find((p: any) => p.kind === 'member' && p.entityId === entityId)

/** The member node received the group (adopted it, or holds an invitation to it once invitations need consent). */
async function received (n: ClusterNode, gid: string): Promise<boolean> {
  if ((await n.api('GET', `/api/v1/groups/${gid}`)).status === 200) return true
  const inv = await n.api('GET', '/api/v1/invites')
  return inv.status === 200 && inv.json.invites.some((i: any) => i.groupId === gid)
}

/** The invitee says yes (bilateral consent, issue 9): then the group's descriptor is owed to its node. */
async function accept (n: ClusterNode, gid: string): Promise<void> {
  const inv = (await n.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === gid)
  assert.ok(inv !== undefined, `${n.name} holds the invitation`)
  await n.ok('POST', `/api/v1/invites/${inv.id}/accept`)
}

before(async () => {
  const [a, k, m, d, nn] = await Promise.all([initAsync(), initAsync({ keeper: true }), initAsync(), initAsync({ keeper: true }), initAsync()])
  ;[K, D] = await Promise.all([launch(k.dataDir, { name: 'K', keeper: true, listen: LOOP }), launch(d.dataDir, { name: 'D', keeper: true, listen: LOOP })])
  ;[A, M, N] = await Promise.all([
    launch(a.dataDir, { name: 'A', listen: LOOP, bootstrap: [D.addr] }),
    launch(m.dataDir, { name: 'M', listen: LOOP, env: { CAIRN_NETWORK_DHT: 'false' } }),
    launch(nn.dataDir, { name: 'N', listen: LOOP, bootstrap: [D.addr] })
  ])
  for (const [n, pg] of [[A, a.personalGroupId!], [M, m.personalGroupId!]] as const) {
    await n.ok('POST', `/api/v1/groups/${pg}/keepers`, { peerId: K.peerId, multiaddr: K.addr })
    await waitFor(`K to keep ${n.name}'s personal group`, async () => (await K.api('GET', `/api/v1/groups/${pg}`)).status === 200, 20_000)
  }
})

after(async () => { await stopCluster(); await stopAll() })

test('a member added without an address, reachable only through a shared keeper, gets the group', async () => {
  const g = await A.ok('POST', '/api/v1/groups', { name: 'with M' })
  assert.equal((await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === M.peerId), false, 'A must not know M beforehand')
  await A.ok('POST', `/api/v1/groups/${g.id}/members`, { entityId: M.status.entityId, role: 'member' })
  await waitFor('M to receive the group', async () => await received(M, g.id), 30_000, 100)
  await accept(M, g.id)
  await waitFor('A to show M\'s node delivered', async () => {
    const r = await memberRow(g.id, M.status.entityId)
    return r?.peerId === M.peerId && r.delivered === true
  }, 30_000, 200)
})

test('a member added without an address, reachable only through the DHT, gets the group', async () => {
  const g = await A.ok('POST', '/api/v1/groups', { name: 'with N' })
  await A.ok('POST', `/api/v1/groups/${g.id}/members`, { entityId: N.status.entityId, role: 'member' })
  await waitFor('N to receive the group', async () => await received(N, g.id), 60_000, 200)
  await accept(N, g.id)
  await waitFor('A to show N\'s node delivered', async () => (await memberRow(g.id, N.status.entityId))?.delivered === true, 30_000, 200)
})

test('a member whose node is offline shows pending with its last error, then delivered when it comes up', async () => {
  const o = await initAsync()
  const port = await freePort()
  const g = await A.ok('POST', '/api/v1/groups', { name: 'with O' })
  await A.ok('POST', `/api/v1/groups/${g.id}/members`, { entityId: o.entityId, role: 'member', multiaddr: `/ip4/127.0.0.1/tcp/${port}/p2p/${o.peerId}` })
  const pending = await waitFor('A to show O pending with an error', async () => {
    const r = await memberRow(g.id, o.entityId!)
    return r !== undefined && r.delivered === false && typeof r.lastError === 'string' && r.lastError.length > 0 ? r : undefined
  }, 30_000, 200)
  assert.equal(pending.connected, false)
  const O = await launch(o.dataDir, { name: 'O', listen: [`/ip4/127.0.0.1/tcp/${port}`] })
  await waitFor('O to receive the group', async () => await received(O, g.id), 90_000, 200)
  await accept(O, g.id)
  await waitFor('A to show O delivered and its error cleared', async () => {
    const r = await memberRow(g.id, o.entityId!)
    return r?.delivered === true && r.peerId === o.peerId && r.lastError === null
  }, 30_000, 200)
})
