/**
 * Plaintext never at rest (SPEC §2 invariant), end to end with a real process:
 * item content, types and meta carrying a unique marker, a group with a unique
 * name, updates, deletes, a rotation and a member change. Then the marker, the
 * name, every group key and the entity seed appear in no file of the data dir —
 * not cairn.db, not its WAL (checked after kill -9, while the WAL still holds the
 * recent pages), not the log — and nowhere raw, the vault included.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { Vault, readVaultFile } from '../../src/vault/vault.js'
import { PASSPHRASE, initNodeDir, startNode, stopAll, waitFor, type NodeProcess } from '../helpers/cli.js'
import { findNeedles, type Needle } from '../helpers/scan.js'

after(stopAll)

const MARK = `mk${randomBytes(12).toString('hex')}`
const NAME = `group-${randomUUID()}`
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

async function rotateAndWait (p: NodeProcess, gid: string): Promise<void> {
  const { jobId } = await p.ok('POST', `/api/v1/groups/${gid}/rotate`)
  await waitFor('re-encryption', async () => (await p.ok('GET', `/api/v1/jobs/${jobId}`)).state === 'done', 60_000)
}

async function keyNeedles (dataDir: string, gids: string[]): Promise<{ needles: Needle[], seed: Uint8Array }> {
  const v = new Vault(join(dataDir, 'vault.cbor'))
  await v.unlock(PASSPHRASE)
  const needles: Needle[] = []
  for (const gid of gids) {
    const ring = v.ring(gid)
    assert.ok(ring !== undefined && ring.size > 0, `no keys for ${gid} in the vault`)
    for (const e of ring.list()) needles.push({ what: `key v${e.version} of ${gid === gids[0] ? 'the group' : 'the personal group'}`, bytes: new Uint8Array(e.key) })
  }
  const seed = new Uint8Array(v.entityKey().seed)
  v.lock()
  return { needles, seed }
}

test('the marker, the group name, the group keys and the entity seed never reach disk unencrypted', async () => {
  const info = initNodeDir()
  const dir = info.dataDir
  const env = { CAIRN_LOG_LEVEL: 'debug' }
  let p = await startNode(dir, { env })
  const g = await p.ok('POST', '/api/v1/groups', { name: NAME })
  const ids: string[] = []
  for (let i = 0; i < 12; i++) {
    const r = await p.ok('POST', `/api/v1/groups/${g.id}/items`, { content: `${MARK} content ${i} ${'lorem ipsum '.repeat(i * 10)}`, type: `${MARK}-type`, meta: { note: MARK, [MARK]: [MARK, i] } })
    ids.push(r.id)
  }
  await p.ok('POST', `/api/v1/groups/${info.personalGroupId}/items`, { content: { nested: { deep: MARK } }, type: 'note' })
  for (const id of ids.slice(0, 3)) await p.ok('PUT', `/api/v1/items/${id}`, { content: `${MARK} updated`, meta: { v: MARK } })
  for (const id of ids.slice(3, 6)) await p.ok('DELETE', `/api/v1/items/${id}`)
  const found = await p.ok('GET', `/api/v1/search?q=${MARK}`)
  assert.ok(found.results.length >= 6, 'the in-memory index finds the marker')
  await rotateAndWait(p, g.id)
  const bob = entityIdFromPublicKey(generateSigningKey().publicKey)
  // An invitation (the name wrapped to bob) and its revocation are in the store too.
  await p.ok('POST', `/api/v1/groups/${g.id}/members`, { entityId: bob, role: 'member' })
  await p.ok('DELETE', `/api/v1/groups/${g.id}/members/${bob}`)
  await rotateAndWait(p, g.id)
  for (let i = 0; i < 3; i++) await p.ok('POST', `/api/v1/groups/${g.id}/items`, { content: `${MARK} after rotation ${i}`, type: `${MARK}-type` })
  // a few refused requests carrying the marker, so error paths are exercised too
  assert.equal((await p.api('POST', `/api/v1/groups/${g.id}/items`, { content: MARK, type: 7 })).status, 400)
  assert.equal((await p.api('POST', `/api/v1/groups/${randomUUID()}/items`, { content: MARK })).status, 404)
  assert.equal((await p.api('POST', '/api/v1/groups', { name: NAME, culture: 'loud' })).status, 400)

  // Phase 1: crash. The WAL still holds the recent pages.
  await p.kill9()
  const wal = join(dir, 'cairn.db-wal')
  assert.ok(existsSync(wal) && statSync(wal).size > 0, 'expected a non-empty WAL after kill -9')
  const { needles: keys, seed } = await keyNeedles(dir, [g.id, info.personalGroupId!])
  assert.ok(keys.length >= 4, 'group keys v1..v3 and the personal key')
  const secrets: Needle[] = [{ what: 'marker', bytes: utf8(MARK) }, { what: 'group name', bytes: utf8(NAME) }, ...keys, { what: 'entity seed', bytes: seed }]
  // positive controls: the scan does see what is meant to be in the clear
  assert.ok(readFileSync(wal).indexOf(Buffer.from(g.id)) >= 0, 'the WAL holds the (opaque) group ID: the scan reads it')
  assert.ok(readFileSync(join(dir, 'cairn.log')).length > 0, 'the log is not empty')
  assert.deepEqual(findNeedles(dir, secrets), [])

  // Phase 2: restart, write more, stop cleanly (checkpoint, WAL folded into cairn.db).
  p = await startNode(dir, { env })
  for (let i = 0; i < 3; i++) await p.ok('POST', `/api/v1/groups/${g.id}/items`, { content: `${MARK} second run ${i}`, meta: { k: MARK } })
  const list = await p.ok('GET', `/api/v1/groups/${g.id}/items?limit=1000`)
  assert.equal(list.items.length, 12 - 3 + 3 + 3)
  assert.ok(list.items.every((it: any) => JSON.stringify(it).includes(MARK)), 'every item still decrypts to its marker')
  assert.equal(await p.stop(), 0)
  const after = await keyNeedles(dir, [g.id, info.personalGroupId!])
  const all: Needle[] = [{ what: 'marker', bytes: utf8(MARK) }, { what: 'group name', bytes: utf8(NAME) }, ...after.needles, { what: 'entity seed', bytes: after.seed }]
  assert.ok(readFileSync(join(dir, 'cairn.db')).indexOf(Buffer.from(g.id)) >= 0, 'cairn.db holds the (opaque) group ID: the scan reads it')
  assert.deepEqual(findNeedles(dir, all), [])

  // the vault is on disk with the SPEC's scrypt parameters and mode 0600
  const body = readVaultFile(join(dir, 'vault.cbor'))
  assert.equal(body.N, 2 ** 17)
  for (const f of ['vault.cbor', 'node.key', 'cairn.db', 'api-token']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f)
})
