/** The bulk verifier: results per record, workers or not, and never a batch that does not settle. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Verifier } from '../../src/replication/verifier.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { sealItem } from '../../src/records/item.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { randomBytes } from '../../src/crypto/hash.js'

/** `n` signed item envelopes of one group. */
function signedItems (n: number): Uint8Array[] {
  const k = generateSigningKey()
  const key = randomBytes(32)
  const gid = newGroupId()
  return Array.from({ length: n }, (_, i) => sealItem({ signer: k, groupId: gid, clock: 1e15 + i, keyVersion: 1, key, plain: { type: 'note', content: `n${i}`, meta: null, createdAt: 1 } }).bytes)
}

test('a batch of records is checked one by one: a bad signature or garbage fails alone, the rest pass', async () => {
  const good = signedItems(120)
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

// The pool as a node runs it: the compiled module (under tsx there are no worker threads to load).
const compiled = async (): Promise<typeof import('../../src/replication/verifier.js')> => await import(new URL('../../dist/replication/verifier.js', import.meta.url).href)

test('on worker threads, each record comes back as decodeRecord reads it, around the bytes it was given; bad ones fail alone', async () => {
  const { decodeRecord } = await import('../../src/records/record.js')
  const good = signedItems(300)
  const forged = new Uint8Array(good[7]!); forged[forged.length - 1]! ^= 1
  const huge = new Uint8Array(4096).fill(0x88)
  const batch = [...good.slice(0, 150), forged, new Uint8Array([1, 2, 3]), huge, ...good.slice(150)]
  const { Verifier: Pool } = await compiled()
  const v = new Pool(2)
  try {
    const res = await v.check(batch, 2048)
    assert.equal(v.threads, 2, 'checked on the worker threads, not inline')
    assert.equal(res.length, batch.length)
    assert.deepEqual(res.slice(150, 153), [{ ok: false, reason: 'bad-signature' }, { ok: false, reason: 'malformed' }, { ok: false, reason: 'too-large' }])
    const ok = [...res.slice(0, 150), ...res.slice(153)]
    assert.equal(ok.filter(r => r.ok).length, 300)
    ok.forEach((r, i) => {
      if (!r.ok) return
      const want = decodeRecord(good[i]!)
      assert.equal(r.rec.bytes, batch[i < 150 ? i : i + 3], 'the record is the very bytes handed in')
      assert.deepEqual([r.rec.groupId, r.rec.recordId, Buffer.from(r.rec.hash).toString('hex'), r.rec.signer], [want.groupId, want.recordId, Buffer.from(want.hash).toString('hex'), want.signer])
      assert.deepEqual(r.rec.rec, want.rec)
    })
  } finally { await v.close() }
})

test('a worker thread that dies mid-batch loses nothing: its slice is checked on this thread, and later batches too', async () => {
  const good = signedItems(200)
  const forged = new Uint8Array(good[3]!); forged[forged.length - 1]! ^= 1
  const batch = [...good, forged]
  const { Verifier: Pool } = await compiled()
  const v = new Pool(2)
  try {
    assert.equal((await v.check(batch, 1 << 20)).filter(r => r.ok).length, 200)
    const pending = v.check(batch, 1 << 20)
    await (v as unknown as { workers: Array<{ terminate: () => Promise<number> }> }).workers[0]!.terminate()
    const res = await pending
    assert.equal(res.filter(r => r.ok).length, 200)
    assert.deepEqual(res[200], { ok: false, reason: 'bad-signature' })
    assert.equal(v.threads, 0, 'checking fell back to this thread')
    const again = await v.check(batch, 1 << 20)
    assert.equal(again.filter(r => r.ok).length, 200)
  } finally { await v.close() }
})

test('shared buffers reused batch after batch: each batch, run side by side with others, is judged on its own bytes only', async () => {
  const good = signedItems(240)
  const forged = (b: Uint8Array): Uint8Array => { const f = new Uint8Array(b); f[f.length - 1]! ^= 1; return f }
  const { Verifier: Pool } = await compiled()
  const v = new Pool(2)
  try {
    // A large batch first: its buffer is the one the smaller batches after it are given.
    assert.equal((await v.check(good, 1 << 20)).filter(r => r.ok).length, 240)
    // Smaller batches whose bytes differ from what the buffer held: a forged record where a good one was.
    const a = [...good.slice(0, 100), forged(good[100]!)]
    const b = [forged(good[0]!), ...good.slice(1, 80)]
    const [ra, rb, rc] = await Promise.all([v.check(a, 1 << 20), v.check(b, 1 << 20), v.check(good.slice(0, 60), 1 << 20)])
    assert.deepEqual(ra.map(r => r.ok), [...Array(100).fill(true), false])
    assert.deepEqual(rb.map(r => r.ok), [false, ...Array(79).fill(true)])
    assert.equal(rc.filter(r => r.ok).length, 60)
    // Each record comes back around the bytes it was given, not the buffer's earlier content.
    ra.slice(0, 100).forEach((r, i) => { assert.ok(r.ok); assert.equal(r.rec.bytes, a[i]) })
    const heaps = await v.heaps()
    assert.equal(heaps.length, 2)
    assert.ok(heaps.every(h => h !== undefined && h.total_heap_size > 0), 'each worker tells its heap')
    // Each worker verifies with libsodium, as the main thread does: the addon loads in worker threads too.
    assert.deepEqual((await v.threadInfo()).map(t => t?.ed25519), ['libsodium', 'libsodium'])
  } finally { await v.close() }
})
