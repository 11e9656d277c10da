/**
 * Quotas on real nodes: a peer that floods a keeper with valid records (signed
 * by a real member) is held to replication.peer_records_per_second, counted
 * and audited, while the member's own writes still reach the keeper; a keeper
 * at keeper.max_bytes refuses new records (storage-full) and keeps serving.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeClock } from '../../src/crypto/hlc.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { sealItem } from '../../src/records/item.js'
import { Vault } from '../../src/vault/vault.js'
import { counterIn } from '../helpers/replication-cluster.js'
import { HostilePeer } from '../helpers/replication-hostile.js'
import { initNodeDir, PASSPHRASE, startNode, stopAll, tempDir, waitFor, type NodeProcess } from '../helpers/cli.js'

let A: NodeProcess
let h: HostilePeer | undefined
let P: string

before(async () => {
  A = await startNode(initNodeDir().dataDir)
  P = (await A.ok('POST', '/api/v1/groups', { name: 'quotas' })).id
})
after(async () => { await h?.stop().catch(() => {}); await stopAll() })

const counter = async (n: NodeProcess, name: string, labels: Record<string, string>): Promise<number> => counterIn((await n.api('GET', '/metrics')).text, name, labels)
const itemsOn = async (n: NodeProcess, gid: string): Promise<Set<string>> => new Set((await n.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000`)).items.map((r: { id: string }) => r.id))

test('a flooding peer is throttled at peer_records_per_second, counted and audited; the honest member is unaffected', { timeout: 180_000 }, async () => {
  const K = await startNode(initNodeDir({ keeper: true }).dataDir, { keeper: true, env: { CAIRN_REPLICATION_PEER_RECORDS_PER_SECOND: '20' } }) // burst 200
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
  await waitFor('K to adopt the group', async () => (await K.api('GET', `/api/v1/groups/${P}/raw?limit=1`)).status === 200, 30_000)
  const copy = join(tempDir('cairn-vault-copy-'), 'vault.cbor')
  copyFileSync(join(A.dataDir, 'vault.cbor'), copy)
  const v = new Vault(copy)
  await v.unlock(PASSPHRASE)
  const key = v.ring(P)!.get(1)!
  const rec = (i: number): Uint8Array => sealItem({ signer: v.entityKey(), groupId: P as GroupId, clock: makeClock(Date.now()), keyVersion: 1, key, plain: { type: 'note', content: `flood ${i}`, meta: null, createdAt: makeClock(Date.now()) } }).bytes
  h = await HostilePeer.create()
  await h.connect(K.listenAddrs[0]!)
  await h.hello(K.peerId, h.bindingFor(v.entityKey()))

  const out = await h.pushBySync(K.peerId, P, Array.from({ length: 500 }, (_, i) => rec(i)))
  const done = (out.received.at(-1) as { done?: number }).done ?? -1
  assert.ok(done >= 200 && done < 260, `the flood stored ${done} of 500 records (burst 200, 20/s)`)
  const limited = await counter(K, 'cairn_records_rejected_total', { reason: 'rate-limited', origin: 'sync' })
  assert.equal(limited, 500 - done, 'every refused record is counted')

  // the member's own writes (another peer) still reach the keeper by push
  const ids: string[] = []
  for (let i = 0; i < 30; i++) ids.push((await A.ok('POST', `/api/v1/groups/${P}/items`, { content: `honest ${i}` })).id)
  await waitFor('the honest writes to reach K', async () => { const on = await itemsOn(K, P); return ids.every(id => on.has(id)) }, 30_000, 200)

  // audited in aggregate, with the flooding peer named
  await waitFor('the throttling to be audited', async () => {
    const { entries } = await K.ok('GET', '/api/v1/audit?limit=1000')
    return entries.some((e: any) => e.kind === 'records-rejected' && (e.counts?.['sync:rate-limited'] ?? 0) > 0 && e.peers?.includes(h!.peerId))
  }, 20_000, 500)
  // after a pause the rate allows the flooder again, a little
  await new Promise(resolve => setTimeout(resolve, 1500))
  const later = await h.pushBySync(K.peerId, P, [rec(1000)])
  assert.deepEqual(later.received.at(-1), { done: 1 })
  await K.stop()
})

test('a keeper at keeper.max_bytes refuses new records (storage-full), keeps serving what it holds', { timeout: 180_000 }, async () => {
  for (let i = 0; i < 200; i++) await A.ok('POST', `/api/v1/groups/${P}/items`, { content: `budget ${i} ${'z'.repeat(1500)}` })
  const budget = 120_000
  const K = await startNode(initNodeDir({ keeper: true }).dataDir, { keeper: true, env: { CAIRN_KEEPER_MAX_BYTES: String(budget) } })
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
  await waitFor('the budget to be reached', async () => await counter(K, 'cairn_records_rejected_total', { reason: 'storage-full' }) > 0, 60_000, 300)
  const held = (await K.ok('GET', `/api/v1/groups/${P}/raw?limit=1000`)).items as Array<{ size: number }>
  const bytes = held.reduce((n, r) => n + r.size, 0)
  assert.ok(held.length > 0 && held.length < 200, `K holds ${held.length} items`)
  assert.ok(bytes <= budget, `K holds ${bytes} bytes of items, budget ${budget}`)
  assert.equal((await K.api('GET', '/api/v1/health')).status, 200)
  await K.stop()
})
