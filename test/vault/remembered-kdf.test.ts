/**
 * RememberedKdf (src/vault/remembered-kdf.ts): one derivation per passphrase,
 * salt and parameters; every caller its own copy; forget() wipes them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { scrypt, type Kdf } from '../../src/crypto/kdf.js'
import { RememberedKdf } from '../../src/vault/remembered-kdf.js'

const FAST = { N: 2 ** 10, r: 8, p: 1 }
const salt = new Uint8Array(16).fill(7)

function counting (): { kdf: Kdf, calls: () => number } {
  let n = 0
  return { kdf: async (p, s, q) => { n++; return await scrypt(p, s, q) }, calls: () => n }
}

test('the same passphrase, salt and parameters derive once, concurrent calls included; each caller gets its own copy', async () => {
  const c = counting()
  const m = new RememberedKdf(c.kdf)
  const [a, b] = await Promise.all([m.kdf('pass phrase one', salt, FAST), m.kdf('pass phrase one', salt, FAST)])
  const d = await m.kdf('pass phrase one', salt, FAST)
  assert.equal(c.calls(), 1)
  assert.deepEqual(a, await scrypt('pass phrase one', salt, FAST))
  a.fill(0)
  assert.deepEqual(b, d)
  assert.notDeepEqual(b, a, 'zeroizing one copy left the others')
})

test('another salt, other parameters or another passphrase are derived, never served from memory', async () => {
  const c = counting()
  const m = new RememberedKdf(c.kdf)
  const k = await m.kdf('pass phrase one', salt, FAST)
  assert.notDeepEqual(await m.kdf('pass phrase one', new Uint8Array(16).fill(8), FAST), k)
  assert.notDeepEqual(await m.kdf('pass phrase one', salt, { ...FAST, N: 2 ** 11 }), k)
  const other = await m.kdf('pass phrase two', salt, FAST)
  assert.deepEqual(other, await scrypt('pass phrase two', salt, FAST))
  assert.equal(c.calls(), 4)
})

test('forget() zeroizes the remembered keys; later calls derive each time and keep nothing', async () => {
  const made: Uint8Array[] = []
  const m = new RememberedKdf(async (p, s, q) => { const k = await scrypt(p, s, q); made.push(k); return k })
  const k = await m.kdf('pass phrase one', salt, FAST)
  m.forget()
  await new Promise(resolve => setImmediate(resolve))
  assert.ok(made[0]!.every(x => x === 0), 'the remembered key was not zeroized')
  assert.deepEqual(await m.kdf('pass phrase one', salt, FAST), k)
  assert.deepEqual(await m.kdf('pass phrase one', salt, FAST), k)
  assert.equal(made.length, 3, 'a call after forget() was served from memory')
})

test('a failed derivation is not remembered', async () => {
  let n = 0
  const m = new RememberedKdf(async (p, s, q) => { if (n++ === 0) throw new Error('no memory'); return await scrypt(p, s, q) })
  await assert.rejects(m.kdf('pass phrase one', salt, FAST), /no memory/)
  assert.equal((await m.kdf('pass phrase one', salt, FAST)).length, 32)
})
