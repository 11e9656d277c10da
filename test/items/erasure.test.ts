/**
 * Erasure that reaches copies, on real processes. A writes item I in group S;
 * B (a member of S) shares I into its own group T, kept also by keeper K; E (a
 * member of S with membership.honour_erasure = false) shares I into its group U.
 * A deletes I: B's copy is gone on B and K, E refuses and says why, and both
 * sides' audit logs say what happened; A sees per copy what was done.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { initNodeDir, startNode, stopAll, waitFor } from '../helpers/cli.js'
import { auditOf } from '../helpers/circle-cluster.js'

after(stopAll)

test('an item shared into other groups, deleted at its source: copies deleted where allowed, refused where policy says no, all audited and reported', { timeout: 180_000 }, async () => {
  const [a, b, e, k] = [initNodeDir(), initNodeDir(), initNodeDir(), initNodeDir({ keeper: true })]
  const K = await startNode(k.dataDir, { keeper: true })
  const A = await startNode(a.dataDir, { bootstrap: [K.listenAddrs[0]!] })
  const B = await startNode(b.dataDir, { bootstrap: [A.listenAddrs[0]!, K.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: a.entityId! } })
  const E = await startNode(e.dataDir, { bootstrap: [A.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: a.entityId!, CAIRN_MEMBERSHIP_HONOUR_ERASURE: 'false' } })
  const S = (await A.ok('POST', '/api/v1/groups', { name: 'source' })).id
  for (const [id, n] of [[b.entityId!, B], [e.entityId!, E]] as const) await A.ok('POST', `/api/v1/groups/${S}/members`, { entityId: id, role: 'member', multiaddr: n.listenAddrs[0] })
  const I = await A.ok('POST', `/api/v1/groups/${S}/items`, { content: 'personal data that must be erasable', type: 'profile' })
  for (const n of [B, E]) await waitFor('the members to read I', async () => (await n.api('GET', `/api/v1/items/${I.id}`)).status === 200, 60_000)

  const T = (await B.ok('POST', '/api/v1/groups', { name: 'B\'s notes' })).id
  await B.ok('POST', `/api/v1/groups/${T}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
  const C = await B.ok('POST', `/api/v1/items/${I.id}/share`, { toGroup: T })
  const U = (await E.ok('POST', '/api/v1/groups', { name: 'E\'s archive' })).id
  const C2 = await E.ok('POST', `/api/v1/items/${I.id}/share`, { toGroup: U })
  await waitFor('K to hold B\'s copy', async () => {
    const r = await K.api('GET', `/api/v1/groups/${T}/raw`)
    return r.status === 200 && r.json.items.some((x: any) => x.id === C.id && !x.tombstone)
  }, 30_000)

  assert.equal((await A.api('DELETE', `/api/v1/items/${I.id}`)).status, 200)

  // B's copy: gone on B, and on K (a tombstone without ciphertext).
  await waitFor('B\'s copy to be deleted', async () => (await B.api('GET', `/api/v1/items/${C.id}`)).status === 404, 60_000)
  await waitFor('K to purge the copy\'s ciphertext', async () => {
    const r = await K.ok('GET', `/api/v1/groups/${T}/raw`)
    const it = r.items.find((x: any) => x.id === C.id)
    return it !== undefined && it.tombstone === true && it.ciphertext === ''
  }, 30_000)
  // E's copy: kept, the refusal said.
  await waitFor('E to refuse', async () => (await auditOf(E, 'copy-erasure-refused')).some((x: any) => x.itemId === C2.id && x.reason === 'policy'), 60_000)
  assert.equal((await E.ok('GET', `/api/v1/items/${C2.id}`)).content, 'personal data that must be erasable')
  assert.ok((await auditOf(B, 'copy-erased')).some((x: any) => x.sourceItem === I.id && x.itemId === C.id && x.groupId === T && x.requestedBy === a.entityId))

  // A, the deleter: per copy, what was done; its audit log received both reports.
  const view = await waitFor('both reports at A', async () => {
    const r = await A.api('GET', `/api/v1/items/${I.id}/erasure`)
    return r.status === 200 && r.json.reports.length === 2 ? r.json : undefined
  }, 60_000)
  const byB = view.reports.find((x: any) => x.by === b.entityId)
  const byE = view.reports.find((x: any) => x.by === e.entityId)
  assert.deepEqual(byB.copies, [{ groupId: T, itemId: C.id, action: 'deleted' }])
  assert.deepEqual(byE.copies, [{ groupId: U, itemId: C2.id, action: 'refused', reason: 'policy' }])
  const received = await auditOf(A, 'erasure-report-received')
  assert.ok(received.some((x: any) => x.by === b.entityId && x.itemId === I.id && x.deleted === 1))
  assert.ok(received.some((x: any) => x.by === e.entityId && x.itemId === I.id && x.refused === 1))
  assert.equal((await A.api('GET', `/api/v1/items/${I.id}`)).status, 404)
})
