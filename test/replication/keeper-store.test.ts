/**
 * A keeper's store holds no index of items by kind (store/migrations.ts
 * ROLE_INDEXES) and checkpoints its WAL every 64 MiB: what it receives is still
 * judged record by record, and what it serves reads the same.
 *
 * Set-up: member A and keeper K, each its own process (K verifies on worker
 * threads). K catches up A's group; then a hostile peer bound to A's entity
 * syncs K one batch of good items, a tampered one and garbage: the good ones
 * are stored, the others refused with their reason and counted. K's item count
 * (GET /groups) and raw listing agree with what it holds, IDs are text UUIDs in
 * the JSON, and no item's plaintext is anywhere in K's data directory.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { makeClock } from '../../src/crypto/hlc.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { sealItem } from '../../src/records/item.js'
import { Vault } from '../../src/vault/vault.js'
import { counterIn, memberAndKeeper } from '../helpers/replication-cluster.js'
import { HostilePeer } from '../helpers/replication-hostile.js'
import { findNeedles } from '../helpers/scan.js'
import { PASSPHRASE, stopAll, tempDir, waitFor, type NodeProcess } from '../helpers/cli.js'

const N = 40
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
let A: NodeProcess
let K: NodeProcess
let h: HostilePeer | undefined
let P: string

before(async () => { ({ A, K, P } = await memberAndKeeper('keeper store')) })
after(async () => { await h?.stop().catch(() => {}); await stopAll() })

const rawItems = async (): Promise<any[]> => (await K.ok('GET', `/api/v1/groups/${P}/raw?limit=1000`)).items.filter((r: any) => r.kind === 'item')
const itemCountOnK = async (): Promise<number> => ((await K.ok('GET', '/api/v1/groups')).groups ?? []).find((g: any) => g.id === P)?.itemCount

test("a keeper's store: a sync batch with bad records in it stores the good ones and refuses the others with their reason; counts, listing and JSON IDs unchanged; no plaintext on disk", { timeout: 120_000 }, async () => {
  for (let i = 0; i < N; i++) await A.ok('POST', `/api/v1/groups/${P}/items`, { content: `kept secret ${i}` })
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
  await waitFor('K to hold every item', async () => (await K.api('GET', `/api/v1/groups/${P}/raw?limit=1000`)).status === 200 && (await rawItems()).length === N, 60_000, 300)
  assert.equal(await itemCountOnK(), N, "the keeper's item count, from its indexes")

  const copy = join(tempDir('cairn-vault-copy-'), 'vault.cbor')
  copyFileSync(join(A.dataDir, 'vault.cbor'), copy)
  const v = new Vault(copy)
  await v.unlock(PASSPHRASE)
  const key = v.ring(P)!.get(1)!
  const good = Array.from({ length: 5 }, (_, i) => sealItem({ signer: v.entityKey(), groupId: P as GroupId, clock: makeClock(Date.now()), keyVersion: 1, key, plain: { type: 'note', content: `synced secret ${i}`, meta: null, createdAt: makeClock(Date.now()) } }))
  const tampered = new Uint8Array(good[4]!.bytes); tampered[tampered.length - 10]! ^= 0x01
  const forged = sealItem({ signer: v.entityKey(), groupId: P as GroupId, clock: makeClock(Date.now()), keyVersion: 1, key, plain: { type: 'note', content: 'forged secret', meta: null, createdAt: makeClock(Date.now()) } })
  const badSig = new Uint8Array(forged.bytes); badSig[badSig.length - 1]! ^= 0x01
  const metrics = async (reason: string): Promise<number> => counterIn((await K.api('GET', '/metrics')).text, 'cairn_records_rejected_total', { reason, origin: 'sync' })
  const before = { sig: await metrics('bad-signature'), malformed: await metrics('malformed') }

  h = await HostilePeer.create()
  await h.connect(K.listenAddrs[0]!)
  await h.hello(K.peerId, h.bindingFor(v.entityKey()))
  const out = await h.pushBySync(K.peerId, P, [good[0]!.bytes, badSig, good[1]!.bytes, new Uint8Array([0xa1, 0x00, 0xff]), good[2]!.bytes, good[3]!.bytes])
  assert.deepEqual(out.received.at(-1), { done: 4 }, 'the four good records stored')
  assert.equal(await metrics('bad-signature') - before.sig, 1, 'the altered signature refused as bad-signature')
  assert.equal(await metrics('malformed') - before.malformed, 1, 'the garbage refused as malformed')
  const out2 = await h.pushBySync(K.peerId, P, [tampered])
  assert.deepEqual(out2.received.at(-1), { done: 0 }, 'a tampered record is not stored')

  const raw = await rawItems()
  const ids = new Set(raw.map(r => r.id))
  assert.equal(raw.length, N + 4)
  for (const r of good.slice(0, 4)) assert.ok(ids.has(r.recordId), `good record ${r.recordId} stored`)
  assert.ok(!ids.has(good[4]!.recordId) && !ids.has(forged.recordId), 'no refused record stored')
  assert.ok(raw.every(r => UUID.test(r.id)), 'record IDs in the JSON are text UUIDs')
  assert.equal(await itemCountOnK(), N + 4)
  assert.equal((await K.ok('GET', '/api/v1/status')).counts.items, N + 4, "the status page's count, from the keeper's indexes")

  const db = new Database(join(K.dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  try {
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'").pluck().all() as string[]
    assert.ok(!indexes.includes('records_by_kind') && indexes.includes('records_by_kind_meta'), `a keeper's indexes: ${indexes.join(', ')}`)
  } finally { db.close() }
  const needles = [...Array.from({ length: N }, (_, i) => `kept secret ${i}`), ...Array.from({ length: 5 }, (_, i) => `synced secret ${i}`), 'forged secret']
    .map(s => ({ what: s, bytes: Buffer.from(s) }))
  assert.deepEqual(findNeedles(K.dataDir, needles), [], 'no plaintext in the keeper\'s files (database, WAL, logs)')
})
