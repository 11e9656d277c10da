/**
 * The search index fills after an unlock instead of holding it up (each item
 * is opened and its signature checked again, ~0.1 ms apiece: seconds for tens
 * of thousands of items, minutes for a million). In process: a real Daemon, a
 * real SQLite file, the HTTP API.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { GroupId } from '../../src/crypto/ids.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { BIN, PASSPHRASE, waitFor } from '../helpers/cli.js'

const N = 3000
const run = promisify(execFile)
let A: LocalNode
let gid: GroupId

before(async () => {
  A = await localNode()
  gid = A.personalGroupId as GroupId
  const s = A.daemon.services
  for (let i = 0; i < N; i += 500) s.store.tx(() => { for (let k = i; k < i + 500; k++) s.items.create(gid, { type: 'note', content: `entry w${k} of the rebuild test` }) })
})
after(async () => { await A?.stop() })

/** Lock, unlock, and hold the index build at its next page until the returned function is called. */
async function unlockWithBuildHeld (): Promise<() => void> {
  const s = A.daemon.services
  await s.lock()
  await s.unlock(PASSPHRASE)
  const drain = s.search.drain.bind(s.search)
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  s.search.drain = async () => { await held; return await drain() }
  return () => { s.search.drain = drain; release() }
}

test('an unlock answers before the index is whole, the node answers while it fills, then every item is found', { timeout: 120_000 }, async () => {
  const s = A.daemon.services
  await s.lock()
  await s.unlock(PASSPHRASE)
  assert.equal(await s.searchComplete(0), false, `the unlock waited for ${N} items to be indexed`)
  // The build yields the event loop: the node answers meanwhile, not after it.
  assert.equal((await A.api('GET', '/api/v1/health')).status, 200)
  assert.equal(await s.searchComplete(0), false, 'the health check was answered only once the build had ended')
  await waitFor('the index to be whole', async () => await s.searchComplete(100), 60_000)
  const r = await A.ok('GET', `/api/v1/search?q=w${N - 1}`)
  assert.deepEqual(r.results.map((h: any) => h.itemId).length, 1)
  assert.equal(r.partial, false)
  assert.equal((await A.ok('GET', '/api/v1/search?q=rebuild&limit=5')).results.length, 5)
})

test('a search while the index fills answers partial: true with what is indexed; none after it is whole', { timeout: 120_000 }, async () => {
  const s = A.daemon.services
  // Hold the build: its next page waits until released, so the search's wait runs out.
  const release = await unlockWithBuildHeld()
  try {
    const r = await A.ok('GET', '/api/v1/search?q=rebuild')
    assert.equal(r.partial, true, 'a search during the build says its answer may be short')
    // The CLI says so in words (a separate process: this one serves the API meanwhile).
    const out = await run(process.execPath, [BIN, '--data-dir', A.dataDir, 'search', 'rebuild'], { encoding: 'utf8', timeout: 60_000 })
    assert.match(out.stdout, /some matches may be missing: the node is still indexing/)
  } finally { release() }
  await waitFor('the index to be whole', async () => await s.searchComplete(100), 60_000)
  const r = await A.ok('GET', `/api/v1/search?q=w0`)
  assert.equal(r.partial, false)
  assert.equal(r.results.length, 1)
})

test('a lock while the index fills ends that build; the next unlock builds it whole, and nothing of the old build leaks after the lock', { timeout: 120_000 }, async () => {
  const s = A.daemon.services
  await s.lock()
  await s.unlock(PASSPHRASE)
  await s.lock()
  assert.equal(s.search.isOpen, false, 'locked: no index')
  assert.equal((await A.api('GET', '/api/v1/search?q=rebuild')).status, 423)
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(s.search.isOpen, false, 'the ended build did not reopen it')
  await s.unlock(PASSPHRASE)
  await waitFor('the index to be whole', async () => await s.searchComplete(100), 60_000)
  const r = await A.ok('GET', `/api/v1/search?q=w${N - 1}`)
  assert.equal(r.results.length, 1)
  assert.equal(r.partial, false)
})

test('a source deleted while the copy index fills (it fills with the search index) still erases its copy, once the index is whole', { timeout: 120_000 }, async () => {
  // The personal group is built first (groups go in the order joined): T's copy is not seen while it is held.
  const T = (await A.ok('POST', '/api/v1/groups', { name: 'copies' })).id
  const I = await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'personal data that must be erasable', type: 'profile' })
  const C = await A.ok('POST', `/api/v1/items/${I.id}/share`, { toGroup: T })
  const release = await unlockWithBuildHeld()
  try {
    assert.equal((await A.api('DELETE', `/api/v1/items/${I.id}`)).status, 200)
    assert.equal((await A.api('GET', `/api/v1/items/${C.id}`)).status, 200, 'the copy waits for the copy index to be whole')
  } finally { release() }
  await waitFor('the copy to be erased', async () => (await A.api('GET', `/api/v1/items/${C.id}`)).status === 404, 30_000)
})
