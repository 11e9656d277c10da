/**
 * `cairn start` with a passphrase derives the vault key while its modules load
 * (src/node/early-unlock.ts): the start must still refuse a wrong passphrase
 * as before, unlock with the right one, and lock and unlock afterwards.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { PASSPHRASE, initNodeDir, startNode, stopAll } from '../helpers/cli.js'

after(async () => { await stopAll() })

test('a start with a wrong passphrase is refused (BAD_PASSPHRASE); the right one unlocks; lock and unlock still work', { timeout: 120_000 }, async () => {
  const { dataDir } = initNodeDir()
  await assert.rejects(startNode(dataDir, { passphrase: 'not the passphrase at all' }), (e: any) => e.code === 'BAD_PASSPHRASE')
  const n = await startNode(dataDir)
  try {
    assert.equal(n.status.unlocked, true)
    await n.ok('POST', '/api/v1/lock')
    assert.equal((await n.ok('GET', '/api/v1/status')).unlocked, false)
    assert.equal((await n.api('POST', '/api/v1/unlock', { passphrase: 'not the passphrase at all' })).status, 401)
    await n.ok('POST', '/api/v1/unlock', { passphrase: PASSPHRASE })
    assert.equal((await n.ok('GET', '/api/v1/status')).unlocked, true)
  } finally { await n.stop() }
})
