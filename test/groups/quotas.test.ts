/**
 * Quotas (pure): per (group, peer) token buckets for records and bytes, a
 * total byte budget; a flooding peer is held to the rate while others are not.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Quotas, quotaLimits } from '../../src/groups/quotas.js'

test('a peer past its burst is rate-limited until tokens refill; other peers and groups are unaffected', () => {
  let now = 0
  const q = new Quotas(quotaLimits(10, 1_000_000, 0), 0, () => now) // burst: 100 records
  let stored = 0
  for (let i = 0; i < 150; i++) if (q.admit('g1', 'flooder', 100) === undefined) stored++
  assert.equal(stored, 100)
  assert.equal(q.admit('g1', 'flooder', 100), 'rate-limited')
  assert.equal(q.admit('g1', 'honest', 100), undefined, 'another peer has its own bucket')
  assert.equal(q.admit('g2', 'flooder', 100), undefined, 'and another group too')
  now += 1000
  let again = 0
  for (let i = 0; i < 50; i++) if (q.admit('g1', 'flooder', 100) === undefined) again++
  assert.equal(again, 10, 'one second refills ten records')
})

test('bytes are limited like records; the budget refuses growth past maxBytes, not replacements', () => {
  let now = 0
  const q = new Quotas(quotaLimits(1000, 100, 5000), 1000, () => now) // byte burst 1,000
  assert.equal(q.admit('g', 'p', 900), undefined)
  assert.equal(q.admit('g', 'p', 200), 'rate-limited')
  now += 10_000
  assert.equal(q.admit('g', 'p', 900), undefined) // used 2,800
  assert.equal(q.admit('g', 'q', 900), undefined) // used 3,700
  assert.equal(q.admit('g', 'r', 900), undefined) // used 4,600
  assert.equal(q.admit('g', 's', 900), 'storage-full')
  assert.equal(q.admit('g', 's', 900, 900), undefined, 'a same-size replacement needs no room')
  q.charge(500) // a local write is never refused, but counts
  assert.equal(q.usedBytes, 5100)
  q.resync(1000)
  assert.equal(q.admit('g', 't', 900), undefined)
})
