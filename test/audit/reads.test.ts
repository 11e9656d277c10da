/**
 * audit.reads = true: every item served (GET one, list) and every search is in
 * the audit log with what was served (IDs, counts) and by whom, never content
 * or query text; with the default (false) reads leave no entries.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { initNode } from '../../src/node/init.js'
import { PASSPHRASE, stopAll, tempDir } from '../helpers/cli.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'

after(stopAll)

const readKinds = new Set(['item-read', 'items-listed', 'searched'])

async function entries (n: LocalNode): Promise<any[]> {
  return (await n.ok('GET', '/api/v1/audit?limit=1000')).entries
}

async function exercise (n: LocalNode): Promise<{ gid: string, ids: string[] }> {
  const gid = (await n.ok('POST', '/api/v1/groups', { name: 'read-audited' })).id
  const ids: string[] = []
  for (const w of ['alpha walrus', 'beta walrus', 'gamma heron']) ids.push((await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: w })).id)
  await n.ok('GET', `/api/v1/items/${ids[0]}`)
  await n.ok('GET', `/api/v1/groups/${gid}/items?limit=2`)
  await n.ok('GET', `/api/v1/search?q=walrus&group=${gid}`)
  return { gid, ids }
}

test('audit.reads = true (config file): reads and searches are audited with IDs and the reader, never content or the query', async () => {
  const dataDir = tempDir()
  await initNode({ dataDir, keeper: false, passphrase: PASSPHRASE, env: {} })
  writeFileSync(join(dataDir, 'config.toml'), '[audit]\nreads = true\n')
  const n = await localNode({ dataDir })
  try {
    const { gid, ids } = await exercise(n)
    const all = await entries(n)
    const read = all.find(e => e.kind === 'item-read')
    assert.deepEqual({ groupId: read.groupId, itemId: read.itemId, by: read.by }, { groupId: gid, itemId: ids[0], by: n.entityId })
    const listed = all.find(e => e.kind === 'items-listed')
    assert.equal(listed.groupId, gid)
    assert.equal(listed.count, 2)
    assert.deepEqual(new Set(listed.items), new Set([ids[2], ids[1]]), 'newest first: the two served')
    const searched = all.find(e => e.kind === 'searched')
    assert.equal(searched.groupId, gid)
    assert.deepEqual(new Set(searched.items), new Set([ids[0], ids[1]]))
    const text = JSON.stringify(all)
    for (const word of ['walrus', 'alpha', 'heron']) assert.ok(!text.includes(word), `the audit log holds no content or query text (${word})`)
    assert.equal((await n.ok('GET', '/api/v1/audit/verify')).ok, true)
  } finally { await n.stop() }
})

test('audit.reads defaults to false: reads leave no audit entries', async () => {
  const n = await localNode()
  try {
    await exercise(n)
    assert.deepEqual((await entries(n)).filter(e => readKinds.has(e.kind)), [])
  } finally { await n.stop() }
})

test('CAIRN_AUDIT_READS=true turns it on from the environment; a bad value is a config error', async () => {
  const n = await localNode({ env: { CAIRN_AUDIT_READS: 'true' } })
  try {
    await exercise(n)
    assert.equal((await entries(n)).filter(e => readKinds.has(e.kind)).length, 3)
  } finally { await n.stop() }
  await assert.rejects(localNode({ env: { CAIRN_AUDIT_READS: 'sometimes' } }), (e: any) => e.code === 'CONFIG')
})
