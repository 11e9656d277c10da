/**
 * The vault: the only place key material lives at rest. Wrong passphrase is a
 * clear BAD_PASSPHRASE that changes nothing; lock() wipes the key buffers it
 * handed out; the file is 0600 and holds no raw key bytes.
 * (Small scrypt parameters here for speed; the parameters travel in the file.)
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from '../../src/crypto/hash.js'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import { VAULT_SCRYPT } from '../../src/crypto/kdf.js'
import { signingKeyFromSeed } from '../../src/crypto/sign.js'
import { Vault, readVaultFile } from '../../src/vault/vault.js'
import { CairnError } from '../../src/util/errors.js'
import { stopAll, tempDir } from '../helpers/cli.js'

after(stopAll)

const FAST = { N: 2 ** 10, r: 8, p: 1 }
const PASS = 'correct horse battery staple'
const code = (c: string) => (e: unknown): boolean => e instanceof CairnError && e.code === c
const allZero = (b: Uint8Array): boolean => b.every(x => x === 0)

async function fresh (): Promise<{ v: Vault, path: string, seed: Uint8Array, pg: GroupId }> {
  const path = join(tempDir(), 'vault.cbor')
  const seed = randomBytes(32)
  const pg = newGroupId()
  const v = new Vault(path, { params: FAST })
  await v.create(PASS, seed, pg)
  return { v, path, seed, pg }
}

test('the default vault KDF is scrypt N=2^17, r=8, p=1 (SPEC §2)', () => {
  assert.deepEqual(VAULT_SCRYPT, { N: 2 ** 17, r: 8, p: 1 })
})

test('create → lock → unlock in a new process-like instance restores entity, personal group and key rings', async () => {
  const { v, path, seed, pg } = await fresh()
  const gid = newGroupId()
  const k1 = randomBytes(32); const k2 = randomBytes(32)
  v.addKey(gid, 1, k1)
  v.addKey(gid, 2, k2)
  const entityId = v.entityId()
  v.lock()
  const w = new Vault(path)
  await w.unlock(PASS)
  assert.equal(w.entityId(), entityId)
  assert.deepEqual(w.entityKey().publicKey, signingKeyFromSeed(seed).publicKey)
  assert.equal(w.personalGroupId(), pg)
  assert.deepEqual(w.ring(gid)!.get(1), k1)
  assert.deepEqual(w.ring(gid)!.get(2), k2)
  assert.equal(w.ring(gid)!.latest()!.version, 2)
  assert.notEqual(w.ring(gid)!.list()[0]!.retiredAt, null, 'version 1 is retired once version 2 exists')
  w.lock()
})

test('a wrong passphrase is BAD_PASSPHRASE, the vault stays locked, and the file is unchanged', async () => {
  const { v, path } = await fresh()
  v.addKey(newGroupId(), 1, randomBytes(32))
  v.lock()
  const before = readFileSync(path)
  const mtime = statSync(path).mtimeMs
  const w = new Vault(path)
  for (const wrong of ['correct horse battery stapl', 'Correct horse battery staple', PASS + ' ', 'x'.repeat(100)]) {
    await assert.rejects(w.unlock(wrong), code('BAD_PASSPHRASE'))
    assert.equal(w.unlocked, false)
    assert.throws(() => w.entityKey(), code('VAULT_LOCKED'))
  }
  assert.deepEqual(readFileSync(path), before)
  assert.equal(statSync(path).mtimeMs, mtime)
  await w.unlock(PASS)
  assert.equal(w.unlocked, true)
  w.lock()
})

test('lock() zeroizes the ring key buffers it handed out', async () => {
  const { v } = await fresh()
  const gid = newGroupId()
  v.addKey(gid, 1, randomBytes(32))
  v.addKey(gid, 2, randomBytes(32))
  const held = [v.ring(gid)!.get(1)!, v.ring(gid)!.get(2)!, ...v.ring(gid)!.list().map(e => e.key)]
  for (const k of held) assert.equal(allZero(k), false)
  v.lock()
  for (const k of held) assert.ok(allZero(k), 'a ring key survived lock()')
  assert.equal(v.unlocked, false)
  assert.throws(() => v.ring(gid), code('VAULT_LOCKED'))
})

test('lock() zeroizes the entity key seed it handed out', async () => {
  const { v } = await fresh()
  const held = v.entityKey().seed
  assert.equal(allZero(held), false)
  v.lock()
  assert.ok(allZero(held), 'the entity seed handed out by entityKey() is still in memory after lock()')
})

test('the caller\'s key buffer is copied into the ring (zeroizing it after addKey keeps the ring intact)', async () => {
  const { v } = await fresh()
  const gid = newGroupId()
  const k = randomBytes(32)
  const copy = new Uint8Array(k)
  v.addKey(gid, 1, k)
  k.fill(0)
  assert.deepEqual(v.ring(gid)!.get(1), copy)
  v.lock()
})

test('the vault file is mode 0600 after create and after every save, and holds no raw key bytes', async () => {
  const { v, path, seed } = await fresh()
  assert.equal(statSync(path).mode & 0o777, 0o600)
  const gid = newGroupId()
  const keys = [randomBytes(32), randomBytes(32), randomBytes(32)]
  keys.forEach((k, i) => v.addKey(gid, i + 1, k))
  assert.equal(statSync(path).mode & 0o777, 0o600)
  const file = readFileSync(path)
  for (const k of [seed, ...keys]) assert.equal(file.indexOf(Buffer.from(k)), -1, 'raw key bytes in the vault file')
  assert.equal(file.indexOf(Buffer.from(PASS)), -1)
  const body = readVaultFile(path)
  assert.deepEqual({ N: body.N, r: body.r, p: body.p }, FAST)
  v.lock()
})

test('a corrupt vault file is an INTEGRITY error; a missing one is NOT_INITIALIZED; neither crashes', async () => {
  const { v, path } = await fresh()
  v.lock()
  writeFileSync(path, Buffer.from('this is not a vault'))
  await assert.rejects(new Vault(path).unlock(PASS), code('INTEGRITY'))
  await assert.rejects(new Vault(join(tempDir(), 'missing.cbor')).unlock(PASS), code('NOT_INITIALIZED'))
})

test('a tampered vault ciphertext never opens', async () => {
  const { v, path } = await fresh()
  v.lock()
  const b = readFileSync(path)
  const ct = readVaultFile(path).ct
  const at = b.indexOf(Buffer.from(ct))
  assert.ok(at > 0)
  b[at + Math.floor(ct.length / 2)]! ^= 0x01
  writeFileSync(path, b)
  await assert.rejects(new Vault(path).unlock(PASS), (e: unknown) => e instanceof CairnError && ['BAD_PASSPHRASE', 'INTEGRITY'].includes(e.code))
})

test('a passphrase shorter than 8 characters is refused at create (INVALID_INPUT)', async () => {
  const v = new Vault(join(tempDir(), 'vault.cbor'), { params: FAST })
  await assert.rejects(v.create('short', randomBytes(32), newGroupId()), code('INVALID_INPUT'))
})

test('passphrases are compared after Unicode NFKC normalisation (é typed composed or decomposed both unlock)', async () => {
  const path = join(tempDir(), 'vault.cbor')
  const v = new Vault(path, { params: FAST })
  await v.create('caf\u00e9 au lait', randomBytes(32), newGroupId())
  v.lock()
  const w = new Vault(path)
  await w.unlock('cafe\u0301 au lait')
  assert.equal(w.unlocked, true)
  w.lock()
})
