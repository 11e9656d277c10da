import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { localNode } from '../helpers/in-process.js'
import { initNodeDir, startNode, stopAll } from '../helpers/cli.js'

after(stopAll)

test('an in-process node writes and reads back an item', async () => {
  const n = await localNode()
  try {
    const w = await n.ok('POST', `/api/v1/groups/${n.personalGroupId}/items`, { content: 'hello', type: 'note' })
    const r = await n.ok('GET', `/api/v1/items/${w.id}`)
    assert.equal(r.content, 'hello')
  } finally { await n.stop() }
})

test('a node started as a process answers health and status', async () => {
  const info = initNodeDir()
  const p = await startNode(info.dataDir)
  const h = await p.api('GET', '/api/v1/health')
  assert.deepEqual(h.json, { status: 'ok' })
  const s = await p.ok('GET', '/api/v1/status')
  assert.equal(s.entityId, info.entityId)
  assert.equal(s.unlocked, true)
  assert.equal(await p.stop(), 0)
})
