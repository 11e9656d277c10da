/** The bulk verifier: results per record, workers or not, and never a batch that does not settle. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Verifier } from '../../src/replication/verifier.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { sealItem } from '../../src/records/item.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { randomBytes } from '../../src/crypto/hash.js'

test('a batch of records is checked one by one: a bad signature or garbage fails alone, the rest pass', async () => {
  const k = generateSigningKey()
  const key = randomBytes(32)
  const gid = newGroupId()
  const good = Array.from({ length: 120 }, (_, i) => sealItem({ signer: k, groupId: gid, clock: 1e15 + i, keyVersion: 1, key, plain: { type: 'note', content: `n${i}`, meta: null, createdAt: 1 } }).bytes)
  const forged = new Uint8Array(good[7]!); forged[forged.length - 1]! ^= 1
  const batch = [...good, forged, new Uint8Array([1, 2, 3])]
  const v = new Verifier(2)
  try {
    const res = await v.check(batch, 1 << 20)
    assert.equal(res.length, batch.length)
    assert.equal(res.slice(0, 120).filter(r => r.ok).length, 120)
    assert.deepEqual(res[120], { ok: false, reason: 'bad-signature' })
    assert.deepEqual(res[121], { ok: false, reason: 'malformed' })
  } finally { await v.close() }
})
