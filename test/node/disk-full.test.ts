/**
 * A full disk, for real: the node's data dir is a size-limited tmpfs, filled
 * by a file beside it. Writes are refused with 507 STORAGE_FULL (not a 500),
 * nothing acknowledged is lost, reads and health keep working, and writes
 * resume once space is freed. Needs root (mount); skipped otherwise.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { initNode } from '../../src/node/init.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { PASSPHRASE, stopAll } from '../helpers/cli.js'
import { assertErrorEnvelope } from '../helpers/http.js'
import { fillDisk, mountTmpfs, unmount } from '../helpers/tmpfs.js'

let mount: string | undefined
let n: LocalNode | undefined

before(() => { mount = mountTmpfs(48) })
after(async () => {
  await n?.stop().catch(() => {})
  await stopAll()
  if (mount !== undefined) unmount(mount)
})

test('disk full → 507 STORAGE_FULL, nothing acknowledged lost, writes resume after space frees', async (t) => {
  if (mount === undefined) { t.skip('needs root to mount a tmpfs'); return }
  const dataDir = join(mount, 'node')
  await initNode({ dataDir, keeper: false, passphrase: PASSPHRASE, env: {} })
  n = await localNode({ dataDir })
  const gid = (await n.ok('POST', '/api/v1/groups', { name: 'full disk' })).id
  const acked = new Map<string, string>()
  const big = (i: number): string => `item ${i} ` + 'abcdefghij'.repeat(20_000)
  for (let i = 0; i < 5; i++) acked.set((await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: big(i) })).id, big(i))

  const filler = fillDisk(mount)
  const statuses: number[] = []
  for (let i = 100; i < 112; i++) {
    // some one at a time, some concurrently (one group commit)
    const batch = i % 3 === 0 ? [i] : [i, i + 1000, i + 2000]
    const rs = await Promise.all(batch.map(async k => ({ k, r: await n!.api('POST', `/api/v1/groups/${gid}/items`, { content: big(k) }) })))
    for (const { k, r } of rs) {
      statuses.push(r.status)
      if (r.status === 201) acked.set(r.json.id, big(k))
      else assertErrorEnvelope(r, 507, 'STORAGE_FULL')
    }
  }
  assert.ok(statuses.includes(507), `no write was refused on a full disk: ${statuses.join(',')}`)
  // a PUT too
  const [someId] = [...acked.keys()]
  const put = await n.api('PUT', `/api/v1/items/${someId}`, { content: big(9999) })
  if (put.status === 201 || put.status === 200) acked.set(someId!, big(9999))
  else assertErrorEnvelope(put, 507, 'STORAGE_FULL')
  // reads and health still answer
  assert.equal((await n.api('GET', '/api/v1/health')).status, 200)
  assert.equal((await n.ok('GET', `/api/v1/items/${someId}`)).content, acked.get(someId!))

  unlinkSync(filler)
  const after = await n.api('POST', `/api/v1/groups/${gid}/items`, { content: 'after space was freed' })
  assert.equal(after.status, 201, after.text)
  acked.set(after.json.id, 'after space was freed')

  // every acknowledged write is there, also after a restart
  await n.stop()
  n = await localNode({ dataDir })
  for (const [id, content] of acked) assert.equal((await n.ok('GET', `/api/v1/items/${id}`)).content, content, id)
  assert.equal(n.daemon.services.store.integrityCheck(), 'ok')
  assert.equal((await n.ok('GET', '/api/v1/audit/verify')).ok, true)
})
