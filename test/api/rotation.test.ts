/**
 * Key rotation and member removal: POST rotate → 202 {jobId}; the job reaches
 * done with done == total, with progress on the way; new items use the new key
 * version; every old item still reads with its content; a removed member is gone
 * from the new descriptor version, which carries the next key version.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import type { JobView } from '../../src/jobs/job-runner.js'
import { fromStore } from '../../src/records/record.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll, waitFor } from '../helpers/cli.js'
import { assertErrorEnvelope } from '../helpers/http.js'
import { answerAs } from '../helpers/consent.js'

let n: LocalNode

before(async () => { n = await localNode() })
after(async () => { await n?.stop(); await stopAll() })

async function untilDone (jobId: string, seen: JobView[] = []): Promise<JobView> {
  return await waitFor(`job ${jobId} to finish`, async () => {
    const j = await n.ok('GET', `/api/v1/jobs/${jobId}`) as JobView
    seen.push(j)
    assert.notEqual(j.state, 'failed', `job failed: ${j.error ?? ''}`)
    return j.state === 'done' ? j : undefined
  }, 120_000, 20)
}

async function allItems (gid: string): Promise<any[]> {
  const out: any[] = []
  let cursor: string | null = null
  do {
    const page: any = await n.ok('GET', `/api/v1/groups/${gid}/items?limit=1000${cursor !== null ? `&cursor=${cursor}` : ''}`)
    out.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  return out
}

test('rotate: 202 {jobId}, the job finishes with done == total, new items carry keyVersion+1, old items read with their content', async () => {
  const g = await n.ok('POST', '/api/v1/groups', { name: 'rotation small' })
  assert.equal(g.keyVersion, 1)
  const written = new Map<string, unknown>()
  for (let i = 0; i < 25; i++) {
    const content = { i, text: `item number ${i}` }
    const r = await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content, type: 'rot', meta: { n: i } })
    assert.equal(r.keyVersion, 1)
    written.set(r.id, content)
  }
  const deleted = [...written.keys()][3]!
  await n.ok('DELETE', `/api/v1/items/${deleted}`)
  written.delete(deleted)

  const rot = await n.api('POST', `/api/v1/groups/${g.id}/rotate`)
  assert.equal(rot.status, 202)
  assert.equal(typeof rot.json.jobId, 'string')
  const job = await untilDone(rot.json.jobId)
  assert.equal(job.state, 'done')
  assert.equal(job.total, written.size, 'every live item (not the tombstone) is re-encrypted')
  assert.equal(job.done, job.total)

  const view = await n.ok('GET', `/api/v1/groups/${g.id}`)
  assert.equal(view.keyVersion, 2)
  assert.equal(view.descriptorVersion, 2)
  assert.equal(view.name, 'rotation small', 'the name stays readable after rotation')

  const fresh = await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content: 'after rotation' })
  assert.equal(fresh.keyVersion, 2)
  assert.equal((await n.ok('GET', `/api/v1/items/${fresh.id}`)).keyVersion, 2)

  for (const [id, content] of written) {
    const it = await n.ok('GET', `/api/v1/items/${id}`)
    assert.deepEqual(it.content, content)
    assert.equal(it.keyVersion, 2, 're-encrypted under the new key')
    assert.equal(it.provenance[0].action, 'created')
    assert.equal(it.provenance[0].by, n.entityId)
  }
  const raw = await n.ok('GET', `/api/v1/groups/${g.id}/raw?limit=1000`)
  assert.ok(raw.items.filter((r: any) => !r.tombstone).every((r: any) => r.keyVersion === 2))
})

test('rotation of 2,000 items (four batches): progress rises on the way (0 < done < total seen), ends done == total, every item reads back', async () => {
  const N = 2000
  const g = await n.ok('POST', '/api/v1/groups', { name: 'rotation large' })
  const items = n.daemon.services.items
  const expected = new Map<string, string>()
  n.daemon.services.store.tx(() => { // one transaction: one fsync instead of N
    for (let i = 0; i < N; i++) {
      const r = items.create(g.id, { content: `bulk ${i}`, type: 'bulk' })
      expected.set(r.id, `bulk ${i}`)
    }
  })
  const updates: JobView[] = []
  n.daemon.services.jobs.onUpdate(j => { updates.push(j) })

  const rot = await n.api('POST', `/api/v1/groups/${g.id}/rotate`)
  assert.equal(rot.status, 202)
  const jobId = rot.json.jobId as string
  const polled: JobView[] = []
  const job = await untilDone(jobId, polled)
  assert.equal(job.total, N)
  assert.equal(job.done, N)

  // the job reported progress along the way, never going backwards
  const mine = updates.filter(u => u.id === jobId)
  assert.ok(mine.some(u => u.state === 'running' && u.total === N && u.done > 0 && u.done < u.total), `no intermediate progress: ${JSON.stringify(mine.map(u => [u.state, u.done, u.total]))}`)
  for (const seq of [mine, polled]) {
    for (let i = 1; i < seq.length; i++) assert.ok(seq[i]!.done >= seq[i - 1]!.done, 'done went backwards')
  }
  assert.ok(polled.every(p => p.done <= N && (p.total === 0 || p.total === N)))

  const all = await allItems(g.id)
  assert.equal(all.length, N)
  for (const it of all) {
    assert.equal(it.error, undefined, `unreadable item ${it.id}`)
    assert.equal(it.content, expected.get(it.id))
    assert.equal(it.keyVersion, 2)
  }
})

test('two rotations in a row: key version 3, items from every era read back', async () => {
  const g = await n.ok('POST', '/api/v1/groups', { name: 'rotation twice' })
  const a = await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content: 'era 1' })
  await untilDone((await n.ok('POST', `/api/v1/groups/${g.id}/rotate`)).jobId)
  const b = await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content: 'era 2' })
  await untilDone((await n.ok('POST', `/api/v1/groups/${g.id}/rotate`)).jobId)
  const c = await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content: 'era 3' })
  assert.deepEqual([a.keyVersion, b.keyVersion, c.keyVersion], [1, 2, 3])
  for (const [id, content] of [[a.id, 'era 1'], [b.id, 'era 2'], [c.id, 'era 3']]) {
    const it = await n.ok('GET', `/api/v1/items/${id}`)
    assert.equal(it.content, content)
    assert.equal(it.keyVersion, 3)
  }
  // old key versions stay in the ring, so nothing becomes unreadable
  const ring = n.daemon.services.vault!.ring(g.id)!
  assert.deepEqual(ring.list().map(e => e.version), [1, 2, 3])
})

test('member removal: DELETE → new descriptor version with keyVersion+1, the member is gone, items are re-encrypted', async () => {
  const g = await n.ok('POST', '/api/v1/groups', { name: 'membership' })
  const bobKey = generateSigningKey()
  const carolKey = generateSigningKey()
  const bob = entityIdFromPublicKey(bobKey.publicKey)
  const carol = entityIdFromPublicKey(carolKey.publicKey)
  const added = await n.api('POST', `/api/v1/groups/${g.id}/members`, { entityId: bob, role: 'member' })
  assert.equal(added.status, 201)
  await n.ok('POST', `/api/v1/groups/${g.id}/members`, { entityId: carol, role: 'viewer' })
  // They accept (their answers, signed by their keys, as their nodes would send them).
  answerAs(n.daemon.services, g.id, bobKey)
  answerAs(n.daemon.services, g.id, carolKey)
  const item = await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content: 'before removal' })
  const before = await n.ok('GET', `/api/v1/groups/${g.id}`)
  assert.deepEqual(before.members.map((m: any) => m.entityId).sort(), [n.entityId, bob, carol].sort())
  assert.ok(before.members.every((m: any) => m.state === 'active'))
  assert.equal(before.members.find((m: any) => m.entityId === bob).role, 'member')
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${g.id}/members`, { entityId: bob, role: 'member' }), 409, 'CONFLICT')

  const del = await n.api('DELETE', `/api/v1/groups/${g.id}/members/${bob}`)
  assert.equal(del.status, 200)
  assert.equal(typeof del.json.jobId, 'string')
  await untilDone(del.json.jobId)

  const after = await n.ok('GET', `/api/v1/groups/${g.id}`)
  assert.equal(after.descriptorVersion, before.descriptorVersion + 1)
  assert.equal(after.keyVersion, before.keyVersion + 1)
  assert.ok(!after.members.some((m: any) => m.entityId === bob), 'the removed member is still listed')
  assert.deepEqual(after.members.map((m: any) => [m.entityId, m.role]).sort(), [[n.entityId, 'owner'], [carol, 'viewer']].sort())
  const it = await n.ok('GET', `/api/v1/items/${item.id}`)
  assert.equal(it.content, 'before removal')
  assert.equal(it.keyVersion, after.keyVersion)

  // the new key version was wrapped for the remaining members only
  const envs = n.daemon.services.store.allOfKind(g.id, 'key').filter(r => r.kv === after.keyVersion)
  const recipients = envs.map(r => entityIdFromPublicKey((fromStore(r).rec.b as any).to)).sort()
  assert.deepEqual(recipients, [n.entityId, carol].sort())

  assertErrorEnvelope(await n.api('DELETE', `/api/v1/groups/${g.id}/members/${bob}`), 404, 'NOT_FOUND')
  assertErrorEnvelope(await n.api('DELETE', `/api/v1/groups/${g.id}/members/${n.entityId}`), 409, 'CONFLICT')
})

test('rotating the personal group works and its items stay readable', async () => {
  const pg = n.personalGroupId!
  const a = await n.ok('POST', `/api/v1/groups/${pg}/items`, { content: 'personal note' })
  const rot = await n.api('POST', `/api/v1/groups/${pg}/rotate`)
  assert.equal(rot.status, 202)
  await untilDone(rot.json.jobId)
  assert.equal((await n.ok('GET', `/api/v1/items/${a.id}`)).content, 'personal note')
})

test('items edited and deleted while their step is re-encrypted ahead of the store (the job seals step 2 before it stores step 1): the edits stand, the job finishes done', async () => {
  const g = await n.ok('POST', '/api/v1/groups', { name: 'edited mid-rotation' })
  const s = n.daemon.services
  const ids: string[] = []
  s.store.tx(() => { for (let i = 0; i < 2500; i++) ids.push(s.items.create(g.id, { content: `first ${i}` }).id) })
  // The job reads stale items in record-ID order, 64 in its first step, then
  // 1,000 a step (items this small): these two are in step 2.
  const [edited, deleted] = [...ids].sort().slice(500, 502) as [string, string]
  let touched = false
  const off = s.events.on('stored', ({ record, reencrypted }) => {
    if (touched || reencrypted !== true || record.groupId !== g.id) return
    touched = true // the first of step 1 stored: step 2 is already re-encrypted from what the store held
    s.items.update(edited, { content: 'edited during the rotation' })
    s.items.remove(deleted)
  })
  try {
    const job = await untilDone((await n.ok('POST', `/api/v1/groups/${g.id}/rotate`)).jobId)
    assert.equal(touched, true)
    assert.equal(job.done, 2500)
  } finally { off() }
  const now = await n.ok('GET', `/api/v1/items/${edited}`)
  assert.deepEqual([now.content, now.keyVersion], ['edited during the rotation', 2], 'the edit is the head, under the new key')
  assert.equal((await n.api('GET', `/api/v1/items/${deleted}`)).status, 404, 'the delete stands')
  const all = await allItems(g.id)
  assert.equal(all.length, 2499)
  assert.ok(all.every(it => it.error === undefined && it.keyVersion === 2), 'every item reads under the new key')
  assert.equal(s.store.countStaleItems(g.id, 2), 0)
})
