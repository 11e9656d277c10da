/**
 * The audit log across nodes (real processes: keeper K, entity nodes A and B):
 *  - a node records every membership change it sees, whoever made it: B, added
 *    by A, records the group's creation and its own addition (signed by A); K
 *    records being made a keeper; B records A adding and removing C, the key
 *    rotation, and finally its own removal.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { stopAll, waitFor } from '../helpers/cli.js'
import { stopCluster } from '../helpers/replication-cluster.js'
import { addKeeper, addMember, auditOf, startHistoryCluster, type HistoryCluster } from '../helpers/history-cluster.js'

let c: HistoryCluster

before(async () => { c = await startHistoryCluster() })
after(async () => { await stopCluster(); await stopAll() })

const of = (entries: any[], kind: string, gid: string): any[] => entries.filter(e => e.kind === kind && e.groupId === gid)

test('membership changes made by someone else are audited where they are seen, with who made them', { timeout: 120_000 }, async () => {
  const { A, B, K } = c
  const gid = (await A.ok('POST', '/api/v1/groups', { name: 'seen elsewhere' })).id
  await addKeeper(A, gid, K)
  await addMember(A, gid, B)
  const aId = A.status.entityId

  const kSaw = await waitFor('K to audit being made a keeper', async () => { const e = of(await auditOf(K), 'keeper-added', gid); return e.length > 0 ? e : undefined })
  assert.equal(kSaw[0].peerId, K.peerId)
  assert.equal(kSaw[0].by, aId)
  assert.ok(of(await auditOf(K), 'group-created', gid).some(e => e.by === aId), 'K records who created the group')

  const bAdded = await waitFor('B to audit its own addition', async () => of(await auditOf(B), 'member-added', gid).find(e => e.entityId === B.status.entityId))
  assert.equal(bAdded.by, aId)
  assert.equal(typeof bAdded.descriptorVersion, 'number')
  assert.ok(['delivery', 'sync', 'push'].includes(bAdded.origin), bAdded.origin)
  assert.ok(!Number.isNaN(Date.parse(bAdded.changedAt)))

  // A adds and removes a third entity: B, a bystander, records both and the rotation.
  const other = entityIdFromPublicKey(generateSigningKey().publicKey)
  await A.ok('POST', `/api/v1/groups/${gid}/members`, { entityId: other, role: 'viewer' })
  const rm = await A.ok('DELETE', `/api/v1/groups/${gid}/members/${other}`)
  await waitFor('B to audit the removal of the third member', async () => {
    const e = await auditOf(B)
    return of(e, 'member-added', gid).some(x => x.entityId === other && x.role === 'viewer' && x.by === aId) &&
      of(e, 'member-removed', gid).some(x => x.entityId === other && x.by === aId) &&
      of(e, 'key-rotated', gid).some(x => x.keyVersion === rm.keyVersion && x.by === aId)
  }, 30_000)

  // Nothing A did is recorded twice on A (its own changes are audited by the operations themselves).
  assert.equal(of(await auditOf(A), 'member-removed', gid).filter(x => x.entityId === other).length, 1)

  await A.ok('DELETE', `/api/v1/groups/${gid}/members/${B.status.entityId}`)
  const bRemoved = await waitFor('B to audit its own removal', async () => of(await auditOf(B), 'member-removed', gid).find(e => e.entityId === B.status.entityId), 30_000)
  assert.equal(bRemoved.by, aId)
  for (const n of [A, B, K]) assert.equal((await n.ok('GET', '/api/v1/audit/verify')).ok, true, `${n.name}'s log verifies`)
})
