/**
 * Verifiable history across real processes (keeper K, entity nodes A and B):
 *  - two writers append to a taciturn append-only group on their own nodes
 *    without seeing each other (two heads); after a sync every node and the
 *    keeper verify the group ok with the same heads; an entry that saw both
 *    merges them; with K stopped, a flipped byte in one of its stored entries
 *    is named by K's verify;
 *  - A removes B: after the job every entry's current ciphertext is under the
 *    new key version, B's old key decrypts none of them, and the log still
 *    verifies on A and on K with the same heads.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { decodeRecord, type VerifiedRecord } from '../../src/records/record.js'
import { openItem, type ItemBody } from '../../src/records/item.js'
import { stopAll, waitFor } from '../helpers/cli.js'
import { fixedListen, relaunch, stopCluster, type ClusterNode } from '../helpers/replication-cluster.js'
import { vaultKeysOf } from '../helpers/circle-cluster.js'
import { addKeeper, addMember, startHistoryCluster, type HistoryCluster } from '../helpers/history-cluster.js'

let c: HistoryCluster
let gid: string

before(async () => { c = await startHistoryCluster() })
after(async () => { await stopCluster(); await stopAll() })

const verify = async (n: ClusterNode): Promise<any> => await n.ok('GET', `/api/v1/groups/${gid}/verify`)
const syncAll = async (): Promise<void> => { for (const n of [c.A, c.B]) await n.ok('POST', `/api/v1/groups/${gid}/sync`) }

async function entriesIn (dataDir: string): Promise<Array<VerifiedRecord<ItemBody>>> {
  const db = new Database(join(dataDir, 'cairn.db'), { readonly: true })
  try {
    return (db.prepare("SELECT bytes FROM records WHERE gid = ? AND kind = 'item'").all(gid) as Array<{ bytes: Buffer }>).map(r => decodeRecord(r.bytes) as VerifiedRecord<ItemBody>)
  } finally { db.close() }
}

test('two writers append concurrently on their own nodes; after a sync A, B and the keeper verify ok with the same heads', { timeout: 180_000 }, async () => {
  const { A, B, K } = c
  gid = (await A.ok('POST', '/api/v1/groups', { name: 'shared ledger', appendOnly: true, culture: 'taciturn' })).id
  await addKeeper(A, gid, K)
  await addMember(A, gid, B)
  await syncAll()
  // Taciturn: nothing is pushed, so each writer links only what it has itself.
  await Promise.all([
    (async () => { for (let i = 0; i < 6; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `A ${i}` }) })(),
    (async () => { for (let i = 0; i < 6; i++) await B.ok('POST', `/api/v1/groups/${gid}/items`, { content: `B ${i}` }) })()
  ])
  await syncAll()
  const views = await waitFor('A, B and K to hold all 12 entries and agree on the heads', async () => {
    const vs = await Promise.all([A, B, K].map(verify))
    return vs.every(v => v.records === vs[0].records && JSON.stringify(v.heads) === JSON.stringify(vs[0].heads)) && (await A.rawAll(gid)).length === 12 ? vs : undefined
  }, 60_000)
  for (const [i, v] of views.entries()) {
    assert.equal(v.ok, true, `${['A', 'B', 'K'][i]}: ${JSON.stringify(v.problems)}`)
    assert.equal(v.heads.length, 2, 'two writers who did not see each other: two heads')
  }
  assert.equal(views[0].content, 'checked')
  assert.equal(views[2].content, 'no-key', 'the keeper verifies without any key')

  const merge = await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'merge' })
  const m = await A.ok('GET', `/api/v1/items/${merge.id}`)
  assert.deepEqual([...m.entry.parents].sort(), views[0].heads, 'the next entry names both heads')
  await syncAll()
  await waitFor('every node to see the single merged head', async () => {
    const vs = await Promise.all([A, B, K].map(verify))
    return vs.every(v => v.ok && v.heads.length === 1 && v.heads[0] === m.entry.commitment)
  }, 60_000)
})

test('with the keeper stopped, a flipped byte in one of its stored entries is named by its verify', { timeout: 120_000 }, async () => {
  const victim = (await c.K.rawAll(gid))[3].id as string
  assert.equal(await c.K.stop(), 0)
  const db = new Database(join(c.K.dataDir, 'cairn.db'))
  const row = db.prepare('SELECT bytes FROM records WHERE gid = ? AND rid = ?').get(gid, victim) as { bytes: Buffer }
  row.bytes[Math.floor(row.bytes.length / 2)]! ^= 0x10
  db.prepare('UPDATE records SET bytes = ? WHERE gid = ? AND rid = ?').run(row.bytes, gid, victim)
  db.close()
  c.K = await relaunch(c.K, { listen: fixedListen(c.K) })
  const v = await verify(c.K)
  assert.equal(v.ok, false)
  assert.deepEqual(v.problems, [{ recordId: victim, kind: 'item', problem: 'bad-signature' }])
  // Restore the byte, so the keeper's copy is whole again for the removal test.
  assert.equal(await c.K.stop(), 0)
  const db2 = new Database(join(c.K.dataDir, 'cairn.db'))
  row.bytes[Math.floor(row.bytes.length / 2)]! ^= 0x10
  db2.prepare('UPDATE records SET bytes = ? WHERE gid = ? AND rid = ?').run(row.bytes, gid, victim)
  db2.close()
  c.K = await relaunch(c.K, { listen: fixedListen(c.K) })
  assert.equal((await verify(c.K)).ok, true)
  // K authorizes a sync by the entity A's node announced (hello): until A has
  // reconnected to the restarted K, K answers not-found.
  await waitFor('A to sync with the restarted keeper', async () => {
    const r = await c.A.api('POST', `/api/v1/groups/${gid}/sync`)
    return r.status === 200 && r.json.peers.some((p: any) => p.peerId === c.K.peerId && p.error === undefined)
  }, 60_000)
})

test('removal in an append-only group: every entry re-encrypted under the new key version, B\'s old key opens none, the log still verifies', { timeout: 180_000 }, async () => {
  const { A, B, K } = c
  const before = await verify(A)
  const oldKeys = (await vaultKeysOf(B.dataDir)).filter(k => k.gid === gid)
  assert.deepEqual(oldKeys.map(k => k.version), [1], 'B holds key version 1 only')
  const rm = await A.ok('DELETE', `/api/v1/groups/${gid}/members/${B.status.entityId}`)
  const job = await waitFor('the re-encryption job', async () => { const j = await A.ok('GET', `/api/v1/jobs/${rm.jobId}`); return j.state === 'done' || j.state === 'failed' ? j : undefined }, 60_000)
  assert.equal(job.state, 'done', JSON.stringify(job))
  assert.equal(job.done, 13, 'every entry was re-encrypted')
  await A.ok('POST', `/api/v1/groups/${gid}/sync`)
  await waitFor('K to hold every entry under key version 2', async () => (await K.rawAll(gid)).every((r: any) => r.keyVersion === 2), 60_000)
  for (const n of [A, K]) {
    const entries = await entriesIn(n.dataDir)
    assert.equal(entries.length, 13)
    assert.ok(entries.every(e => e.rec.b.kv === 2), `${n.name}: every entry's current ciphertext is under key version 2`)
    for (const e of entries) assert.throws(() => openItem(e, oldKeys[0]!.key), `${n.name}: B's old key opens ${e.recordId}`)
  }
  for (const n of [A, K]) {
    const v = await verify(n)
    assert.equal(v.ok, true, `${n.name}: ${JSON.stringify(v.problems)}`)
    assert.deepEqual(v.heads, before.heads, `${n.name}: the same heads: links survived the re-encryption`)
  }
})
