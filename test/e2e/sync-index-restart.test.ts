/**
 * The anti-entropy index across restarts, end to end with real processes
 * (issue 14): an agent A and a keeper K of A's personal group P.
 *
 * A clean stop saves each node's index of P; what is saved agrees with the
 * store, so the next start loads it instead of rescanning P. Writes and
 * deletes after the restart, then a kill -9 in the middle of a burst of
 * writes: whatever the crash left in A's store, no saved index disagrees with
 * it, and after A starts again one sync makes A and K hold the same records.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { GroupId } from '../../src/crypto/ids.js'
import { SyncIndex } from '../../src/replication/sync-index.js'
import { Store } from '../../src/store/store.js'
import { stopAll, waitFor } from '../helpers/cli.js'
import { ClusterNode, fixedListen, initAsync, launch, relaunch, stopCluster } from '../helpers/replication-cluster.js'

const LOOP = ['/ip4/127.0.0.1/tcp/0']
let A: ClusterNode
let K: ClusterNode
let P: string

async function write (n: ClusterNode, count: number, tag: string): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push((await n.ok('POST', `/api/v1/groups/${P}/items`, { content: `${tag} ${i}`, type: 'note' })).id)
  return ids
}

/** A session with K succeeds (right after a restart K may not yet know A's binding: it refuses until hello is done). */
const synced = async (): Promise<void> => { await waitFor('a sync of P with K', async () => (await A.api('POST', `/api/v1/groups/${P}/sync`)).status === 200, 20_000, 200) }

const sameRecords = async (): Promise<boolean> => {
  const [a, k] = await Promise.all([A.hashes(P), K.hashes(P)])
  return a.size === k.size && [...a].every(([id, h]) => k.get(id) === h)
}

/** Open a stopped node's store: P's saved index, if any, must summarise exactly the store's hashes. */
function savedIndexOf (n: ClusterNode): 'saved' | 'none' {
  const s = new Store<GroupId>(join(n.dataDir, 'cairn.db'))
  try {
    const row = s.syncIndexes.load(P)
    if (row === undefined) return 'none'
    const fresh = SyncIndex.build(s.eachHash(P as GroupId), s.countGroupRecords(P as GroupId))
    assert.equal(row.count, s.countGroupRecords(P as GroupId), `${n.name}: saved count`)
    assert.equal(row.depth, fresh.depth)
    const state = fresh.state()
    assert.ok(Buffer.from(state.buffer, state.byteOffset, state.byteLength).equals(row.cells), `${n.name}: saved index agrees with the store`)
    return 'saved'
  } finally { s.close() }
}

before(async () => {
  const [a, k] = await Promise.all([initAsync(), initAsync({ keeper: true })])
  ;[A, K] = await Promise.all([launch(a.dataDir, { name: 'A', listen: LOOP }), launch(k.dataDir, { name: 'K', keeper: true, listen: LOOP })])
  K.startOptions!.listen = fixedListen(K)
  P = a.personalGroupId!
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: K.peerId, multiaddr: K.addr })
  await write(A, 40, 'before')
  await waitFor('K to hold what A holds', sameRecords, 30_000, 100)
})

after(async () => { await stopCluster(); await stopAll() })

test('a clean stop saves the index of each node, and it agrees with the store', async () => {
  await A.ok('POST', `/api/v1/groups/${P}/sync`) // both sides have P's index in memory
  // A first: what A sends while it stops (its last audit checkpoint) reaches K before K saves.
  await A.stop('SIGTERM')
  await K.stop('SIGTERM')
  assert.equal(savedIndexOf(A), 'saved')
  assert.equal(savedIndexOf(K), 'saved')
  ;[A, K] = await Promise.all([relaunch(A), relaunch(K)])
  await waitFor('A reconnected to K', async () => (await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === K.peerId), 20_000, 100)
  await write(A, 3, 'after the restart')
  await synced()
  await waitFor('A and K hold the same records', sameRecords, 20_000, 100)
})

test('writes and deletes after the restart, then kill -9 mid-write: no saved index disagrees with the store; the nodes converge', async () => {
  const ids = await write(A, 10, 'after restart')
  for (const id of ids.slice(0, 3)) await A.ok('DELETE', `/api/v1/items/${id}`)
  await waitFor('K to hold the writes and tombstones', sameRecords, 20_000, 100)
  // A burst of writes, killed part-way through.
  const burst = Array.from({ length: 40 }, (_, i) => A.api('POST', `/api/v1/groups/${P}/items`, { content: `burst ${i}`, type: 'note' }).catch(() => undefined))
  await waitFor('some of the burst stored', async () => (await A.hashes(P)).size > 40 + 10 + 5, 20_000, 5)
  await A.stop('SIGKILL')
  await Promise.all(burst) // those cut by the kill answer nothing
  assert.equal(savedIndexOf(A), 'none', 'A wrote after its index was loaded: the write deleted the saved copy')
  A = await relaunch(A)
  await waitFor('A reconnected to K', async () => (await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === K.peerId), 20_000, 100)
  await synced()
  await waitFor('A and K hold the same records', sameRecords, 20_000, 100)
  // The keeper's index followed every record it received: its next clean stop saves one that agrees.
  await K.stop('SIGTERM')
  assert.equal(savedIndexOf(K), 'saved')
  K = await relaunch(K)
  await waitFor('K back', async () => (await A.ok('GET', '/api/v1/peers')).peers.some((p: any) => p.peerId === K.peerId), 20_000, 100)
  await write(A, 5, 'after K restarted')
  await synced()
  await waitFor('A and K hold the same records again', sameRecords, 20_000, 100)
})
