/**
 * A key rotation interrupted by kill -9 finishes after a restart: the job's
 * state lives in the database, and every item ends up under the new key and
 * reads back with its content.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { initNodeDir, startNode, stopAll, waitFor } from '../helpers/cli.js'

after(stopAll)

test('kill -9 during re-encryption: after restart the job resumes, reaches done, and every item reads under the new key', async (t) => {
  const info = initNodeDir()
  let p = await startNode(info.dataDir)
  const gid = (await p.ok('POST', '/api/v1/groups', { name: 'interrupted rotation' })).id
  const expected = new Map<string, string>()
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; i < 75; i++) {
      const content = `w${w} i${i} ${'padding '.repeat(20)}`
      expected.set((await p.ok('POST', `/api/v1/groups/${gid}/items`, { content })).id, content)
    }
  })
  await Promise.all(writers)
  const rot = await p.api('POST', `/api/v1/groups/${gid}/rotate`)
  assert.equal(rot.status, 202)
  await p.kill9() // most likely mid-job; either way the outcome below must hold
  const db = new Database(join(info.dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  const state = (db.prepare('SELECT state, done, total FROM jobs WHERE id = ?').get(rot.json.jobId) as { state: string, done: number, total: number } | undefined)
  db.close()
  assert.ok(state !== undefined, 'the job was persisted before the 202')
  t.diagnostic(`job at the kill: ${JSON.stringify(state)}`)

  p = await startNode(info.dataDir)
  const job = await waitFor('the resumed job to finish', async () => {
    const j = await p.ok('GET', `/api/v1/jobs/${rot.json.jobId}`)
    assert.notEqual(j.state, 'failed', j.error)
    return j.state === 'done' ? j : undefined
  }, 120_000)
  assert.equal(job.done, job.total)
  assert.equal((await p.ok('GET', `/api/v1/groups/${gid}`)).keyVersion, 2)
  const list = await p.ok('GET', `/api/v1/groups/${gid}/items?limit=1000`)
  assert.equal(list.items.length, expected.size)
  for (const it of list.items) {
    assert.equal(it.error, undefined, `item ${it.id} unreadable: ${JSON.stringify(it.error)}`)
    assert.equal(it.content, expected.get(it.id))
    assert.equal(it.keyVersion, 2)
  }
  assert.equal(await p.stop(), 0)
})
