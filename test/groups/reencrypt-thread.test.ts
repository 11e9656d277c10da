/**
 * A rotation's re-encryption on its worker thread (groups/reencrypt-thread.ts):
 * what comes back is what the main thread would have made, records signed by
 * the main thread verify as batch-signed items under the new key, a failure
 * says why, and a worker that dies or a job that stops never leaves a step
 * unsettled. The keys handed over stay intact on this side.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { openItem, sealItem } from '../../src/records/item.js'
import { decodeRecord, sealBatch, signBatch } from '../../src/records/record.js'
import { reencryptStep, type StepInput } from '../../src/groups/reencrypt-thread.js'

// The thread as a node runs it: the compiled module (under tsx no worker thread can load).
const compiled = async (): Promise<typeof import('../../src/groups/reencrypt-thread.js')> => await import(new URL('../../dist/groups/reencrypt-thread.js', import.meta.url).href)

const me = generateSigningKey()
const author = generateSigningKey()
const gid = newGroupId()
const k1 = randomBytes(32)
const k2 = randomBytes(32)
const k3 = randomBytes(32)

/** `n` items of one group, half under key version 1 and half under 2, as a store holds them. */
function staleRows (n: number): { rows: StepInput['rows'], contents: string[] } {
  const contents = Array.from({ length: n }, (_, i) => `item ${i} ${'words '.repeat(i % 40)}`)
  const rows = contents.map((content, i) => {
    const kv = i % 2 === 0 ? 1 : 2
    const r = sealItem({ signer: author, groupId: gid, clock: 1e15 + i, keyVersion: kv, key: kv === 1 ? k1 : k2, plain: { type: 'note', content, meta: null, createdAt: 1 } })
    return { bytes: r.bytes, hash: r.hash }
  })
  return { rows, contents }
}

const input = (rows: StepInput['rows']): StepInput => ({ rows, keys: [[1, k1], [2, k2]], kv: 3, key: k3, signer: me.publicKey })

function assertReencrypted (res: ReturnType<typeof reencryptStep>, rows: StepInput['rows'], contents: string[]): void {
  assert.ok(res.ok, res.ok ? '' : res.message)
  const recs = sealBatch(me, res.us, res.leaves)
  assert.equal(recs.length, rows.length)
  recs.forEach((r, i) => {
    const back = decodeRecord(r.bytes) // signature (the batch root), path and hash checked from the bytes alone
    assert.equal(back.rec.v, 2, 'batch-signed')
    assert.equal(back.rec.b.kv, 3)
    assert.deepEqual(back.rec.b.p, rows[i]!.hash, 'the new version names the one it re-encrypts')
    assert.equal(back.signer, r.signer)
    assert.equal((openItem(back as never, k3).content), contents[i], 'reads back under the new key')
    assert.deepEqual(Buffer.from(back.hash), Buffer.from(r.hash))
  })
}

test('inline, a step is the work signBatch would do: the sealed records verify as batch-signed items under the new key and read back', () => {
  const { rows, contents } = staleRows(40)
  const res = reencryptStep(input(rows))
  assertReencrypted(res, rows, contents)
  assert.ok(res.ok)
  const again = signBatch(me, res.us)
  assert.deepEqual(sealBatch(me, res.us, res.leaves).map(r => Buffer.from(r.bytes).toString('hex')), again.map(r => Buffer.from(r.bytes).toString('hex')), 'byte for byte what signBatch makes (Ed25519 is deterministic)')
  assert.throws(() => sealBatch(generateSigningKey(), res.us, res.leaves), /another signer/, 'leaves made for one signer are not sealed by another')
})

test('on the worker thread: the same records, every one verifying; the keys handed over are untouched here', async () => {
  const { ReencryptThread } = await compiled()
  const { rows, contents } = staleRows(300)
  const keys = [k1, k2, k3].map(k => Buffer.from(k).toString('hex'))
  const t = new ReencryptThread()
  try {
    const first = await t.run(input(rows.slice(0, 150)))
    assert.equal(t.threaded, true, 'done on the worker thread, not inline')
    const second = await t.run(input(rows.slice(150)))
    assertReencrypted(first, rows.slice(0, 150), contents.slice(0, 150))
    assertReencrypted(second, rows.slice(150), contents.slice(150))
    assert.deepEqual([k1, k2, k3].map(k => Buffer.from(k).toString('hex')), keys, 'the worker zeroes its own copies only')
  } finally { await t.close() }
})

test('a step that cannot be re-encrypted fails, saying why: the wrong key, a key version with no key', async () => {
  const { ReencryptThread } = await compiled()
  const { rows } = staleRows(10)
  const t = new ReencryptThread()
  try {
    const wrong = await t.run({ ...input(rows), keys: [[1, randomBytes(32)], [2, k2]] })
    assert.deepEqual(wrong.ok ? 'ok' : [wrong.code, /failed authentication/.test(wrong.message)], ['INTEGRITY', true])
    const missing = await t.run({ ...input(rows), keys: [[1, k1]] })
    assert.deepEqual(missing.ok ? 'ok' : [missing.code, missing.message], ['INTEGRITY', 'no key for key version 2'])
    assert.equal(t.threaded, true)
  } finally { await t.close() }
  const inline = reencryptStep({ ...input(rows), keys: [[2, k2]] })
  assert.deepEqual(inline.ok ? 'ok' : inline.message, 'no key for key version 1')
})

test('a worker thread that dies mid-step loses nothing: the step is done on this thread, and the later ones too; the job is told why, once', async () => {
  const { ReencryptThread } = await compiled()
  const { rows, contents } = staleRows(200)
  const whys: string[] = []
  const t = new ReencryptThread(why => whys.push(why))
  try {
    assertReencrypted(await t.run(input(rows.slice(0, 20))), rows.slice(0, 20), contents.slice(0, 20))
    const pending = t.run(input(rows))
    await (t as unknown as { w: { terminate: () => Promise<number> } }).w.terminate()
    assertReencrypted(await pending, rows, contents)
    assert.equal(t.threaded, false, 'fell back to this thread')
    assertReencrypted(await t.run(input(rows.slice(0, 5))), rows.slice(0, 5), contents.slice(0, 5))
  } finally { await t.close() }
  assert.deepEqual(whys, ['it exited (code 1)'])
})

test('a job that stops with a step outstanding: the step settles as stopped, nothing hangs', async () => {
  const { ReencryptThread } = await compiled()
  const { rows } = staleRows(100)
  const whys: string[] = []
  const t = new ReencryptThread(why => whys.push(why))
  const pending = t.run(input(rows))
  await t.close()
  const res = await pending
  assert.deepEqual(res.ok ? 'ok' : [res.code, res.message], ['UNAVAILABLE', 'stopped'])
  assert.deepEqual(whys, [], 'a stop is not a failure of the thread')
})

test('a step holds up to 1,000 items of the size seen in the one before, and about 8 MiB of records: never none', async () => {
  const { stepSize } = await import('../../src/groups/reencrypt.js')
  assert.equal(stepSize(64, 64 * 1300), 1000, 'small items: full steps')
  assert.equal(stepSize(64, 64 * 128 * 1024), 64, '128 KiB items: 64 a step')
  assert.equal(stepSize(10, 10 * 2 * 1024 * 1024), 4, '2 MiB items: 4 a step')
  assert.equal(stepSize(1, 64 * 1024 * 1024), 1, 'one item larger than a step: one at a time')
  assert.equal(stepSize(0, 0), 1000)
})
