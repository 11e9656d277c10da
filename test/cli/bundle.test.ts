/**
 * bin/cairn runs dist/bundle/ (scripts/bundle.mjs), not the ~1,100 modules tsc
 * emits. What the bundle could break and the rest of the suite would not say
 * plainly: the worker threads (the verifier's, a rotation's) are files of their
 * own beside the chunks (a broken one makes a node check every received record,
 * or re-encrypt every item, on its main thread, silently, at a fraction of the
 * speed), and the sources' paths relative to the package root.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { sealItem } from '../../src/records/item.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { BIN, ROOT } from '../helpers/cli.js'

const BUNDLE = join(ROOT, 'dist/bundle')

test('the bundled verify worker checks a batch as the verifier sends it: a good record passes, a forged one and garbage fail alone', async () => {
  const gid = newGroupId()
  const good = sealItem({ signer: generateSigningKey(), groupId: gid, clock: 1e15, keyVersion: 1, key: randomBytes(32), plain: { type: 'note', content: 'n', meta: null, createdAt: 1 } }).bytes
  const forged = new Uint8Array(good); forged[forged.length - 1]! ^= 1
  const recs = [good, forged, new Uint8Array([1, 2, 3])]
  const offs = new Uint32Array(recs.length + 1)
  recs.forEach((r, i) => { offs[i + 1] = offs[i]! + r.length })
  const buf = new SharedArrayBuffer(offs[recs.length]!)
  recs.forEach((r, i) => { new Uint8Array(buf).set(r, offs[i]) })
  const w = new Worker(join(BUNDLE, 'verify-worker.js'), { execArgv: [] })
  try {
    const reply = await new Promise<{ id: number, out: Array<string | { groupId: string }> }>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
      w.postMessage({ id: 7, buf, offs, maxBytes: 1 << 20 })
    })
    assert.equal(reply.id, 7)
    assert.equal((reply.out[0] as { groupId: string }).groupId, gid, 'the good record decoded and verified')
    assert.deepEqual(reply.out.slice(1), ['bad-signature', 'malformed'])
  } finally { await w.terminate() }
})

test('the bundled re-encryption worker does a step as the job sends it: the records come back sealed under the new key, ready to sign', async () => {
  const gid = newGroupId()
  const me = generateSigningKey()
  const [k1, k2] = [randomBytes(32), randomBytes(32)]
  const old = sealItem({ signer: generateSigningKey(), groupId: gid, clock: 1e15, keyVersion: 1, key: k1, plain: { type: 'note', content: 'n', meta: null, createdAt: 1 } })
  const w = new Worker(join(BUNDLE, 'reencrypt-worker.js'), { execArgv: [] })
  try {
    const reply = await new Promise<{ id: number, ok: boolean, us: Array<{ recordId: string, body: { kv: number } }>, leaves: { leaves: Uint8Array[] } }>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
      w.postMessage({ id: 3, rows: [{ bytes: old.bytes, hash: old.hash }], keys: [[1, k1]], kv: 2, key: k2, signer: me.publicKey })
    })
    assert.deepEqual([reply.id, reply.ok, reply.us[0]?.recordId, reply.us[0]?.body.kv, reply.leaves.leaves.length], [3, true, old.recordId, 2, 1])
  } finally { await w.terminate() }
})

test('the bundle: the CLI and the workers are entries, every file sits two levels under the package root, and `cairn --version` reads package.json', () => {
  for (const f of ['cli.js', 'verify-worker.js', 'reencrypt-worker.js', 'meta.json']) assert.ok(existsSync(join(BUNDLE, f)), `dist/bundle/${f}`)
  const meta = JSON.parse(readFileSync(join(BUNDLE, 'meta.json'), 'utf8')) as { outputs: Record<string, unknown> }
  assert.deepEqual(Object.keys(meta.outputs).filter(o => !o.startsWith('dist/bundle/') || o.slice('dist/bundle/'.length).includes('/')), [])
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version)
})
