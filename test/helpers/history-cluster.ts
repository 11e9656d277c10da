/**
 * A small real network for the verifiable-history tests: one keeper K and two
 * entity nodes A and B (separate `cairn start` processes on loopback, A and B
 * bootstrapped to K, B dialled to A). Helpers add members (accepting the
 * invitation where the node has one) and keepers and wait until they hold the
 * group. Periodic anti-entropy is pushed an hour out: the tests sync on demand.
 * Every process is killed by stopCluster().
 */
import { randomBytes } from 'node:crypto'
import { waitFor } from './cli.js'
import { initAsync, launch, type ClusterNode } from './replication-cluster.js'
import { auditOf } from './circle-cluster.js'

export { auditOf }

export const QUIET_TIMERS = { CAIRN_REPLICATION_CHATTY_INTERVAL_SECONDS: '3600', CAIRN_REPLICATION_TACITURN_INTERVAL_SECONDS: '86400' }

export interface HistoryCluster { K: ClusterNode, A: ClusterNode, B: ClusterNode, run: string }

export async function startHistoryCluster (env: Record<string, string> = {}): Promise<HistoryCluster> {
  const [ai, bi, ki] = await Promise.all([initAsync(), initAsync(), initAsync({ keeper: true })])
  const K = await launch(ki.dataDir, { name: 'K', keeper: true, listen: ['/ip4/127.0.0.1/tcp/0'], env: { ...QUIET_TIMERS, ...env } })
  const boot = [K.listenAddrs[0]!]
  const [A, B] = await Promise.all([
    launch(ai.dataDir, { name: 'A', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: boot, env: { ...QUIET_TIMERS, ...env } }),
    launch(bi.dataDir, { name: 'B', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: boot, env: { ...QUIET_TIMERS, ...env } })
  ])
  await B.ok('POST', '/api/v1/peers', { multiaddr: A.listenAddrs[0] })
  return { K, A, B, run: randomBytes(4).toString('hex') }
}

/** `by` adds keeper k to gid and waits until k holds the group. */
export async function addKeeper (by: ClusterNode, gid: string, k: ClusterNode): Promise<void> {
  await by.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: k.peerId, multiaddr: k.listenAddrs[0] })
  await waitFor(`${k.name} to adopt ${gid}`, async () => (await k.api('GET', `/api/v1/groups/${gid}/raw?limit=1`)).status === 200, 20_000)
}

/**
 * `by` adds member m to gid; if m's node lists an invitation for it (the
 * membership life cycle), m accepts; then waits until m can read the group.
 */
export async function addMember (by: ClusterNode, gid: string, m: ClusterNode, role = 'member'): Promise<void> {
  await by.ok('POST', `/api/v1/groups/${gid}/members`, { entityId: m.status.entityId, role, multiaddr: m.listenAddrs[0] })
  await waitFor(`${m.name} to hold ${gid} with its key`, async () => {
    const inv = await m.api('GET', '/api/v1/invites')
    const mine = inv.status === 200 ? (inv.json.invites as any[]).find(i => i.groupId === gid) : undefined
    if (mine !== undefined) await m.api('POST', `/api/v1/invites/${mine.id}/accept`)
    const r = await m.api('GET', `/api/v1/groups/${gid}/items?limit=1`)
    return r.status === 200
  }, 30_000)
}
