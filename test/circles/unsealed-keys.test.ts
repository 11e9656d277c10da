/**
 * Unsealed circle keys: a key put under an existing unseal, with its TTL worked out
 * from that unseal's expiry (a member removal's new key), expires exactly when the
 * unseal does, however much time passed since; a longer TTL extends it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { UnsealedKeys } from '../../src/circles/unsealed-keys.js'
import type { GroupId } from '../../src/crypto/ids.js'

test('a key added with the TTL left of the unseal keeps its expiry to the millisecond; a longer one extends it', async () => {
  const keys = new UnsealedKeys()
  const gid = '0b5f3c2e-1a4d-4e6f-9a8b-7c6d5e4f3a2b' as GroupId
  const first = keys.put(gid, 1, new Uint8Array(32).fill(1), 120_000)
  for (let i = 0; i < 20; i++) {
    await sleep(1)
    const now = Date.now()
    assert.equal(keys.put(gid, 2, new Uint8Array(32).fill(2), keys.expiresAt(gid)! - now, now), first)
  }
  assert.deepEqual(keys.versions(gid).sort(), [1, 2])
  const later = keys.put(gid, 3, new Uint8Array(32).fill(3), 600_000)
  assert.ok(later > first)
  keys.seal(gid)
  assert.equal(keys.isUnsealed(gid), false)
})
