/**
 * `cairn recover` derives the vault key once (src/node/recover.ts): the proof to
 * the keeper, opening the vault it sends and the recovering node's unlock share
 * one scrypt (it used to run three, ~0.3 s of CPU and 128 MiB each).
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { scrypt, type Kdf } from '../../src/crypto/kdf.js'
import { recoverNode } from '../../src/node/recover.js'
import { silentLogger } from '../../src/util/logger.js'
import { localNode } from '../helpers/in-process.js'
import { PASSPHRASE, stopAll, tempDir, waitFor } from '../helpers/cli.js'

after(async () => { await stopAll() })

test('a recovery derives the vault key once, and the recovered node holds the item', { timeout: 120_000 }, async () => {
  const K = await localNode({ keeper: true })
  const A = await localNode()
  try {
    const from = K.daemon.status().listenAddrs[0]!
    const P = A.personalGroupId!
    await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: K.daemon.status().peerId, multiaddr: from })
    await A.ok('POST', `/api/v1/groups/${P}/items`, { content: 'remembered once' })
    await waitFor('K to hold the item', async () => {
      const r = await K.api('GET', `/api/v1/groups/${P}/raw?limit=100`)
      return r.status === 200 && r.json.items.some((i: any) => i.kind === 'item' && !i.tombstone)
    }, 60_000, 200)
    await A.stop()
    let derivations = 0
    const kdf: Kdf = async (p, s, q) => { derivations++; return await scrypt(p, s, q) }
    const r = await recoverNode({ dataDir: join(tempDir(), 'new-device'), from, entityId: A.entityId!, passphrase: PASSPHRASE, log: silentLogger(), env: {}, kdf })
    assert.equal(derivations, 1)
    assert.equal(r.items, 1)
    assert.deepEqual(r.errors, [])
  } finally {
    await A.stop().catch(() => {})
    await K.stop()
  }
})
