/**
 * Time-limited membership on real processes: B joins A's group with a
 * membership that ends 3 s later; nobody clicks anything, and A's node removes B
 * with a new key version; B can no longer write, and what it wrote before stays.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { initNodeDir, startNode, stopAll, waitFor } from '../helpers/cli.js'
import { auditOf } from '../helpers/circle-cluster.js'

after(stopAll)

test('a membership with expiresAt 3 s ahead ends by itself with a new key version', { timeout: 120_000 }, async () => {
  const [a, b] = [initNodeDir(), initNodeDir()]
  const A = await startNode(a.dataDir)
  const B = await startNode(b.dataDir, { bootstrap: [A.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: a.entityId! } })
  const G = (await A.ok('POST', '/api/v1/groups', { name: 'for a while' })).id
  assert.equal((await A.api('POST', `/api/v1/groups/${G}/members`, { entityId: b.entityId, expiresAt: 'next tuesday' })).status, 400)
  assert.equal((await A.api('POST', `/api/v1/groups/${G}/members`, { entityId: b.entityId, expiresAt: new Date(Date.now() - 1000).toISOString() })).status, 400)
  const added = A.cli(['--json', 'group', 'add-member', G, b.entityId!, '--expires', '3s', '--multiaddr', B.listenAddrs[0]!])
  assert.equal(added.status, 0, added.stdout + added.stderr)
  const kv = added.json.keyVersion
  const ends = Date.parse(added.json.members.find((m: any) => m.entityId === b.entityId).expiresAt)
  assert.ok(ends > Date.now() - 10_000 && ends < Date.now() + 4000, 'the membership ends 3 s after the invitation')
  // B accepts at once (auto_accept) and, if the box is quick enough, writes before its time is up.
  let early: { id: string } | undefined
  while (early === undefined && Date.now() < ends - 300) {
    const r = await B.api('POST', `/api/v1/groups/${G}/items`, { content: 'while a member' })
    if (r.status === 201) early = r.json
    else await new Promise(resolve => setTimeout(resolve, 100))
  }
  const g = await waitFor('A to remove B at its expiry', async () => {
    const v = await A.ok('GET', `/api/v1/groups/${G}`)
    return v.members.some((m: any) => m.entityId === b.entityId) ? undefined : v
  }, 30_000, 200)
  assert.ok(Date.now() >= ends)
  assert.equal(g.keyVersion, kv + 1, 'removal = a new key version')
  assert.ok((await auditOf(A, 'member-expired')).some((e: any) => e.entityId === b.entityId && e.groupId === G))
  // B's node refuses its own write: its membership ended (403), or it already holds the descriptor without it (404).
  const late = await B.api('POST', `/api/v1/groups/${G}/items`, { content: 'after the end' })
  assert.ok([403, 404].includes(late.status), late.text)
  if (early !== undefined) assert.equal((await A.ok('GET', `/api/v1/items/${early.id}`)).content, 'while a member', 'what B wrote as a member stays')
})
