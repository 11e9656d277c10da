/**
 * Batch-signed records on a real keeper (docs/RECORDS.md, "Batch-signed
 * records"): a rotation on node A re-encrypts its items as batch-signed records;
 * keeper K (its own process, verifier workers) verifies and stores every one;
 * its copies open under the new key and none under the old. A hostile peer
 * bound to A's entity then syncs tampered batch-signed records to K: a changed
 * path, a wrong leaf index and another batch's path are refused as bad-proof, a
 * root signed by another key as bad-signature, each counted; none is stored.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { decode as cborDecode } from 'cborg'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import { makeClock } from '../../src/crypto/hlc.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { generateSigningKey, sign } from '../../src/crypto/sign.js'
import { rootMessage } from '../../src/records/batch.js'
import { openItem, reencryptItems, sealItem, type ItemBody } from '../../src/records/item.js'
import { decodeRecord, hasKind, type VerifiedRecord } from '../../src/records/record.js'
import { Vault } from '../../src/vault/vault.js'
import { counterIn, memberAndKeeper } from '../helpers/replication-cluster.js'
import { HostilePeer } from '../helpers/replication-hostile.js'
import { PASSPHRASE, stopAll, tempDir, waitFor, type NodeProcess } from '../helpers/cli.js'

const N = 150
let A: NodeProcess
let K: NodeProcess
let h: HostilePeer | undefined
let P: string

before(async () => { ({ A, K, P } = await memberAndKeeper('batch-signed')) })
after(async () => { await h?.stop().catch(() => {}); await stopAll() })

const counter = async (n: NodeProcess, name: string, labels: Record<string, string>): Promise<number> => counterIn((await n.api('GET', '/metrics')).text, name, labels)
const rawOn = async (n: NodeProcess): Promise<Map<string, { hash: string, keyVersion: number }>> =>
  new Map((await n.ok('GET', `/api/v1/groups/${P}/raw?limit=1000`)).items.filter((r: any) => r.kind === 'item').map((r: any) => [r.id, r]))

/** K's stored item records of P, read from its database (WAL: a reader beside the running keeper), each verified here again. */
function storedOnK (): Array<VerifiedRecord<ItemBody>> {
  const db = new Database(join(K.dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT bytes FROM records').all() as Array<{ bytes: Buffer }>)
      .map(r => decodeRecord(new Uint8Array(r.bytes)))
      .filter((r): r is VerifiedRecord<ItemBody> => r.groupId === P && hasKind(r, 'item'))
  } finally { db.close() }
}

test('a rotation\'s batch-signed re-encryptions reach a real keeper, which verifies and stores each; its copies open under the new key only', { timeout: 180_000 }, async () => {
  for (let i = 0; i < N; i++) await A.ok('POST', `/api/v1/groups/${P}/items`, { content: `before rotation ${i}` })
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
  await waitFor('K to hold every item', async () => (await K.api('GET', `/api/v1/groups/${P}/raw?limit=1000`)).status === 200 && (await rawOn(K)).size === N, 60_000, 300)

  const job = (await A.ok('POST', `/api/v1/groups/${P}/rotate`)).jobId as string
  await waitFor('the rotation job to finish', async () => {
    const j = await A.ok('GET', `/api/v1/jobs/${job}`)
    assert.notEqual(j.state, 'failed', j.error)
    return j.state === 'done'
  }, 60_000, 100)
  const onA = await rawOn(A)
  assert.ok([...onA.values()].every(r => r.keyVersion === 2))
  await waitFor('K to hold every re-encrypted version A holds', async () => {
    const onK = await rawOn(K)
    return [...onA].every(([id, r]) => onK.get(id)?.hash === r.hash)
  }, 60_000, 300)
  for (const reason of ['bad-proof', 'bad-signature', 'malformed']) {
    assert.equal(await counter(K, 'cairn_records_rejected_total', { reason }), 0, `K refused an honest record (${reason})`)
  }

  // What K stored: batch-signed (v2), one root per job step, each verifying alone.
  const copy = join(tempDir('cairn-vault-copy-'), 'vault.cbor')
  copyFileSync(join(A.dataDir, 'vault.cbor'), copy)
  const v = new Vault(copy)
  await v.unlock(PASSPHRASE)
  const ring = v.ring(P)!
  const stored = storedOnK()
  assert.equal(stored.length, N)
  assert.ok(stored.every(r => r.rec.v === 2 && r.rec.b.kv === 2), 'every re-encrypted record is batch-signed')
  // The job's first step is 64 items (its size unknown before), the next takes the rest.
  const roots = new Map<string, number[]>()
  for (const r of stored) { const k = Buffer.from(r.rec.pf!.root).toString('hex'); roots.set(k, [...(roots.get(k) ?? []), r.rec.pf!.n]) }
  assert.deepEqual([...roots.values()].map(ns => [ns.length, ns[0]]).sort((a, b) => a[0]! - b[0]!), [[64, 64], [N - 64, N - 64]], `${N} items: two job steps, one root each, each naming its size`)
  for (const r of stored) {
    assert.match((openItem(r, ring.get(2)!).content as string), /^before rotation \d+$/)
    assert.throws(() => openItem(r, ring.get(1)!), 'the old key opens none of the keeper\'s copies')
  }
  const gv = await K.ok('GET', `/api/v1/groups/${P}/verify`)
  assert.equal(gv.ok, true, JSON.stringify(gv.problems))
})

test('tampered batch-signed records synced to the keeper: each refused with its reason, counted, none stored', { timeout: 120_000 }, async () => {
  const copy = join(tempDir('cairn-vault-copy-'), 'vault.cbor')
  copyFileSync(join(A.dataDir, 'vault.cbor'), copy)
  const v = new Vault(copy)
  await v.unlock(PASSPHRASE)
  const me = v.entityKey()
  const key = v.ring(P)!.get(2)!
  const gid = P as GroupId
  const fresh = (tag: string) => Array.from({ length: 8 }, (_, i) => sealItem({ signer: me, groupId: gid, clock: makeClock(Date.now()), keyVersion: 2, key, plain: { type: 'note', content: `${tag} ${i}`, meta: null, createdAt: makeClock(Date.now()) } }))
  const b = reencryptItems(fresh('one'), () => key, me, 2, key)
  const other = reencryptItems(fresh('two'), () => key, me, 2, key)
  const rewrite = (bytes: Uint8Array, f: (a: any[]) => void): Uint8Array => { const a = cborDecode(bytes, { useMaps: false }) as any[]; f(a); return encodeCanonical(a) }
  const pf = b[3]!.rec.pf!
  const bad = [
    rewrite(b[1]!.bytes, a => { a[7][3][0][7] ^= 0x01 }), // tampered path
    rewrite(b[2]!.bytes, a => { a[7][1] = 5 }), // wrong leaf index
    rewrite(b[4]!.bytes, a => { a[7][3] = other[4]!.rec.pf!.path; a[7][2] = other[4]!.rec.pf!.root; a[7][4] = other[4]!.rec.x }), // another batch's path, root and signature
    rewrite(b[3]!.bytes, a => { a[7][4] = sign(generateSigningKey(), rootMessage(b[3]!.rec.g, pf.n, pf.root)) }) // the root signed by another key
  ]
  const before = await rawOn(K)
  h = await HostilePeer.create()
  await h.connect(K.listenAddrs[0]!)
  await h.hello(K.peerId, h.bindingFor(me))
  const out = await h.pushBySync(K.peerId, P, bad)
  assert.deepEqual(out.received.at(-1), { done: 0 }, 'nothing stored')
  assert.equal(await counter(K, 'cairn_records_rejected_total', { reason: 'bad-proof', origin: 'sync' }), 3)
  assert.equal(await counter(K, 'cairn_records_rejected_total', { reason: 'bad-signature', origin: 'sync' }), 1)
  const afterwards = await rawOn(K)
  assert.equal(afterwards.size, before.size)
  for (const r of [...b, ...other]) assert.equal(afterwards.has(r.recordId), false)
  assert.equal((await K.api('GET', '/api/v1/health')).status, 200)
})
