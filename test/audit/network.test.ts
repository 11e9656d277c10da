/**
 * The audit log across nodes (real processes: keeper K, entity nodes A and B):
 *  - a node records every membership change it sees, whoever made it: B, added
 *    by A, records the group's creation and its own addition (signed by A); K
 *    records being made a keeper, then (a bystander) B's addition once B
 *    accepted, B's removal by A and the key rotation; B records its removal;
 *  - the keepers' copy: A's signed checkpoints reach the keeper of its
 *    personal group (encrypted; K cannot read them). With A stopped, its log
 *    is cut short (and the local copies deleted): after a restart verify
 *    fetches the keeper's copy and reports the truncation. A whole rewrite
 *    re-signed with A's own node key (read from its data dir) verifies
 *    locally, and is caught against the keeper's copy.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { cpSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { loadNodeKey } from '../../src/node/node-key.js'
import { stopAll, tempDir, waitFor } from '../helpers/cli.js'
import { fixedListen, launch, relaunch, stopCluster } from '../helpers/replication-cluster.js'
import { rewriteLog, truncateLog } from '../helpers/audit-tamper.js'
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

  // K, a bystander (the group's keeper), records B's addition by A once B accepted.
  await waitFor('K to audit B\'s addition', async () => of(await auditOf(K), 'member-added', gid).some(x => x.entityId === B.status.entityId && x.by === aId))

  // A removes B: B records its own removal, and K the removal and the rotation, each with who made it.
  const rm = await A.ok('DELETE', `/api/v1/groups/${gid}/members/${B.status.entityId}`)
  const bRemoved = await waitFor('B to audit its own removal', async () => of(await auditOf(B), 'member-removed', gid).find(e => e.entityId === B.status.entityId), 30_000)
  assert.equal(bRemoved.by, aId)
  await waitFor('K to audit the removal and the key rotation', async () => {
    const e = await auditOf(K)
    return of(e, 'member-removed', gid).some(x => x.entityId === B.status.entityId && x.by === aId) &&
      of(e, 'key-rotated', gid).some(x => x.keyVersion === rm.keyVersion && x.by === aId)
  }, 30_000)
  // Nothing A did is recorded twice on A (its own changes are audited by the operations themselves).
  assert.equal(of(await auditOf(A), 'member-removed', gid).filter(x => x.entityId === B.status.entityId).length, 1)
  for (const n of [A, B, K]) assert.equal((await n.ok('GET', '/api/v1/audit/verify')).ok, true, `${n.name}'s log verifies`)
})

test('the keepers\' copy: a cut tail, and a rewrite re-signed with the node\'s own key, are caught against the checkpoints the keeper holds', { timeout: 240_000 }, async () => {
  const { K } = c
  let A = c.A
  const pg = A.status.personalGroupId
  await addKeeper(A, pg, K)
  for (let i = 0; i < 3; i++) {
    const other = entityIdFromPublicKey(generateSigningKey().publicKey)
    const g = (await A.ok('POST', '/api/v1/groups', { name: `scratch ${i}` })).id
    await A.ok('POST', `/api/v1/groups/${g}/members`, { entityId: other, role: 'member' })
    await A.ok('DELETE', `/api/v1/groups/${g}/members/${other}`)
  }
  for (let i = 0; i < 12; i++) { const { id } = await A.ok('POST', `/api/v1/groups/${pg}/items`, { content: `n ${i}` }); await A.ok('DELETE', `/api/v1/items/${id}`) }
  const ok = await A.ok('GET', '/api/v1/audit/verify')
  assert.equal(ok.ok, true, JSON.stringify(ok))
  assert.equal(ok.keepers.refreshed, true)
  assert.ok(ok.keepers.checkpoints >= 1, 'the start checkpoint reached the keeper')
  // K holds the copies as ciphertext: no checkpoint head of A's appears in any of K's files.
  const heads = (await auditOf(A, 'checkpoint')).map(e => e.head as string)
  const kFiles = ['cairn.db', 'cairn.db-wal'].map(f => join(K.dataDir, f)).filter(f => existsSync(f)).map(f => readFileSync(f).toString('latin1'))
  for (const h of heads) assert.ok(!kFiles.some(t => t.includes(h) || t.includes(Buffer.from(h, 'hex').toString('latin1'))), `K's files hold checkpoint head ${h.slice(0, 12)}… in the clear`)

  const listen = fixedListen(A)
  assert.equal(await A.stop(), 0)
  const pristine = tempDir('cairn-audit-pristine-')
  cpSync(A.dataDir, pristine, { recursive: true })
  const db = new Database(join(A.dataDir, 'cairn.db'))
  const tail = (db.prepare('SELECT max(seq) AS s FROM audit').get() as { s: number }).s
  truncateLog(db, tail - 20)
  db.prepare("DELETE FROM records WHERE kind = 'audit-copy'").run()
  db.close()

  A = c.A = await relaunch(A, { listen })
  const cut = await A.ok('GET', '/api/v1/audit/verify')
  assert.equal(cut.ok, false, JSON.stringify(cut))
  assert.equal(cut.reason, 'truncated')
  assert.equal(cut.keepers.reason, 'truncated')
  assert.equal(cut.keepers.refreshed, true)
  assert.ok(cut.brokenAt >= 1 && cut.brokenAt <= tail - 19, `brokenAt ${cut.brokenAt}`)
  assert.ok(cut.keepers.newestUpTo >= tail - 1, 'the copy of the checkpoint signed at the clean stop')
  const cl = A.cli(['--json', 'audit', 'verify'])
  assert.equal(cl.status, 1)
  assert.equal(cl.json.keepers.reason, 'truncated')
  assert.match(A.cli(['audit', 'verify']).stdout, /keepers' copy: MISMATCH/)
  assert.equal(await A.stop(), 0)

  // The pristine copy of the data dir, rewritten by someone who read node.key: every entry re-hashed, every checkpoint re-signed.
  const db2 = new Database(join(pristine, 'cairn.db'))
  const key = loadNodeKey(join(pristine, 'node.key')).signing
  rewriteLog(db2, key, () => false, (kind, d) => kind === 'invite-revoked' ? { ...d, entityId: 'cairn1someoneelse' } : d)
  db2.prepare("DELETE FROM records WHERE kind = 'audit-copy'").run()
  db2.close()
  const A2 = await launch(pristine, { ...A.startOptions!, name: 'A (rewritten)', listen })
  const rw = await A2.ok('GET', '/api/v1/audit/verify')
  assert.equal(rw.keepers.reason, 'rewritten', JSON.stringify(rw))
  assert.equal(rw.ok, false)
  assert.equal(rw.checkpoints > 0 && rw.signedUpTo > 0, true, 'locally the rewrite verifies: it was re-signed with the node key')
  assert.equal(await A2.stop(), 0)
})
