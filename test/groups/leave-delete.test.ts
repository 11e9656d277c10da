/**
 * Leaving and deleting a group, end to end on real processes, and what stays
 * on disk afterwards: A owns G; B and C are members (they take A's invitations
 * without asking); K keeps it.
 *   - B leaves: its node purges G and shreds its keys at once; A removes B with a
 *     new key version when it stores the signed leave; G's chain pushed at B again
 *     is refused (left-group).
 *   - C goes offline (a copy of its data dir is kept: a stale peer); A deletes G:
 *     A and K purge it, G answers 410; C back online purges it on receiving the
 *     deletion; the stale copy started later is refused, gets the proof, purges.
 *   - Every node stopped: G's records' bytes are in no file of any data dir.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { fromStore } from '../../src/records/record.js'
import { Channel } from '../../src/replication/channel.js'
import { DELIVER_PROTOCOL } from '../../src/replication/deliver.js'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { initNodeDir, startNode, stopAll, tempDir, waitFor, type NodeProcess } from '../helpers/cli.js'
import { findNeedles, type Needle } from '../helpers/scan.js'
import { auditOf, vaultKeysOf } from '../helpers/circle-cluster.js'

let net: CairnLibp2p | undefined
after(async () => { await net?.stop(); await stopAll() })

const MARK = `leave-delete-${randomBytes(8).toString('hex')}`

function countIn (dataDir: string, gid: string): number {
  const db = new Database(join(dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  try { return (db.prepare('SELECT count(*) AS n FROM records WHERE gid = ?').get(gid) as { n: number }).n } finally { db.close() }
}

function descriptors (dataDir: string, gid: string): Array<{ bytes: Uint8Array, hash: Uint8Array }> {
  const db = new Database(join(dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  try { return (db.prepare("SELECT bytes, hash FROM records WHERE gid = ? AND kind = 'desc'").all(gid) as Array<{ bytes: Buffer, hash: Buffer }>).map(r => ({ bytes: new Uint8Array(r.bytes), hash: new Uint8Array(r.hash) })) } finally { db.close() }
}

describe('leave and delete: the group\'s bytes gone from every node', { timeout: 300_000 }, () => {
  let A: NodeProcess, B: NodeProcess, C: NodeProcess, K: NodeProcess
  let dirs: { a: string, b: string, c: string, k: string, stale: string }
  let aId: string, bId: string, cId: string
  let G: string
  const needles: Needle[] = []

  before(async () => {
    const [a, b, c, k] = [initNodeDir(), initNodeDir(), initNodeDir(), initNodeDir({ keeper: true })]
    aId = a.entityId!; bId = b.entityId!; cId = c.entityId!
    dirs = { a: a.dataDir, b: b.dataDir, c: c.dataDir, k: k.dataDir, stale: join(tempDir('cairn-stale-'), 'c') }
    K = await startNode(k.dataDir, { keeper: true })
    A = await startNode(a.dataDir, { bootstrap: [K.listenAddrs[0]!] })
    B = await startNode(b.dataDir, { bootstrap: [A.listenAddrs[0]!, K.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: aId } })
    C = await startNode(c.dataDir, { bootstrap: [A.listenAddrs[0]!, K.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: aId } })
    G = (await A.ok('POST', '/api/v1/groups', { name: `secret plans ${MARK}` })).id
    await A.ok('POST', `/api/v1/groups/${G}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
    for (const [id, n] of [[bId, B], [cId, C]] as const) await A.ok('POST', `/api/v1/groups/${G}/members`, { entityId: id, role: 'member', multiaddr: n.listenAddrs[0] })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await A.ok('POST', `/api/v1/groups/${G}/items`, { content: `${MARK} item ${i} ${'words '.repeat(50)}` })).id)
    ids.push((await B.ok('POST', `/api/v1/groups/${G}/items`, { content: `${MARK} from B` }).catch(async () => {
      await waitFor('B to hold G', async () => (await B.api('GET', `/api/v1/groups/${G}`)).status === 200, 30_000)
      return await B.ok('POST', `/api/v1/groups/${G}/items`, { content: `${MARK} from B` })
    })).id)
    for (const n of [B, C]) await waitFor('every member to read every item', async () => { for (const id of ids) if ((await n.api('GET', `/api/v1/items/${id}`)).status !== 200) return false; return true }, 60_000)
    await waitFor('K to hold every item', async () => { const r = await K.api('GET', `/api/v1/groups/${G}/raw?limit=100`); return r.status === 200 && ids.every(id => r.json.items.some((x: any) => x.id === id)) }, 60_000)
    // What must vanish: every item's ciphertext, and the group name as sealed in its descriptors.
    for (const it of (await A.ok('GET', `/api/v1/groups/${G}/raw?limit=100`)).items) needles.push({ what: `item ${it.id as string}`, bytes: Buffer.from(it.ciphertext, 'base64').subarray(16, 48) })
    for (const d of descriptors(a.dataDir, G)) needles.push({ what: `descriptor v${fromStore(d, 'desc').rec.b.ver} (its sealed name)`, bytes: fromStore(d, 'desc').rec.b.nm.subarray(12, 40) })
  })

  test('B leaves: {left:true}; its node purges G and shreds its keys; A removes B with a new key version; G pushed at B again is refused', async () => {
    const kvBefore = (await A.ok('GET', `/api/v1/groups/${G}`)).keyVersion
    const r = B.cli(['--json', 'group', 'leave', G])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.deepEqual(r.json, { left: true })
    assert.equal((await B.api('GET', `/api/v1/groups/${G}`)).status, 404)
    assert.ok(!(await B.ok('GET', '/api/v1/groups')).groups.some((g: any) => g.id === G))
    assert.equal(countIn(B.dataDir, G), 0)
    const g = await waitFor('A to remove B', async () => { const v = await A.ok('GET', `/api/v1/groups/${G}`); return v.members.some((m: any) => m.entityId === bId) ? undefined : v }, 30_000)
    assert.equal(g.keyVersion, kvBefore + 1, 'a new key version once the leave is seen')
    assert.ok((await auditOf(A, 'member-left')).some((e: any) => e.entityId === bId))
    assert.ok((await auditOf(B, 'group-left')).some((e: any) => e.groupId === G && e.records > 0))
    // A stale view of G handed to B: refused, not adopted.
    net = await createNetwork({
      privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false,
      inboundPerSecond: 100, maxConnections: 50, maxRecordBytes: 1 << 20, privateAddresses: true
    })
    if (net.status !== 'started') await net.start()
    await net.dial(multiaddr(B.listenAddrs[0]!), { signal: AbortSignal.timeout(10_000) })
    const stream = await net.dialProtocol(peerIdFromString(B.peerId), DELIVER_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const ch = new Channel(stream, 8 << 20, 10_000)
    await ch.send({ recs: descriptors(A.dataDir, G).map(d => d.bytes) })
    const ans = await ch.recv()
    await ch.close()
    assert.equal(ans.status, 'refused')
    assert.equal(ans.reason, 'left-group')
    assert.equal(countIn(B.dataDir, G), 0)
    await B.stop()
    assert.deepEqual(findNeedles(B.dataDir, needles), [], 'no byte of G in B\'s files')
    assert.ok(!(await vaultKeysOf(B.dataDir)).some(k => k.gid === G), 'B\'s vault holds no key of G')
  })

  test('A deletes G with C offline: A and K purge, 410 GROUP_DELETED; C back online purges; a stale copy of C is refused and purges', async () => {
    await C.stop()
    cpSync(dirs.c, dirs.stale, { recursive: true })
    const r = A.cli(['--json', 'group', 'delete', G])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.deepEqual(r.json, { deleted: true })
    for (const path of [`/api/v1/groups/${G}`, `/api/v1/groups/${G}/items`]) {
      const res = await A.api('GET', path)
      assert.equal(res.status, 410, path)
      assert.equal(res.json.error.code, 'GROUP_DELETED')
    }
    assert.equal(countIn(A.dataDir, G), 0)
    await waitFor('K to purge G', async () => (await K.api('GET', `/api/v1/groups/${G}/raw`)).status === 410, 30_000)
    assert.equal(countIn(K.dataDir, G), 0)
    assert.equal((await A.api('POST', `/api/v1/groups/${G}/items`, { content: 'too late' })).status, 410)
    // C comes back: the deletion reaches it (A's outbox retries until it lands).
    C = await startNode(dirs.c, { bootstrap: [A.listenAddrs[0]!, K.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: aId } })
    await waitFor('C to purge G', async () => (await C.api('GET', `/api/v1/groups/${G}`)).status === 410, 60_000)
    assert.equal(countIn(C.dataDir, G), 0)
    await C.stop()
    // The stale copy still holds G and offers it to A and K: refused, and it is handed the deletion.
    const stale = await startNode(dirs.stale, { bootstrap: [A.listenAddrs[0]!, K.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: aId } })
    await waitFor('the stale copy to purge G', async () => (await stale.api('GET', `/api/v1/groups/${G}`)).status === 410, 60_000)
    assert.equal((await A.api('GET', `/api/v1/groups/${G}`)).status, 410, 'A never adopts it again')
    assert.equal((await K.api('GET', `/api/v1/groups/${G}/raw`)).status, 410, 'nor K')
    assert.equal(countIn(A.dataDir, G) + countIn(K.dataDir, G), 0)
    assert.ok((await auditOf(A, 'group-deleted')).some((e: any) => e.groupId === G && e.records > 0))
    assert.ok((await auditOf(K, 'group-deleted')).some((e: any) => e.groupId === G))
    await stale.stop()
    await A.stop()
    await K.stop()
    for (const [name, dir] of Object.entries(dirs)) {
      assert.deepEqual(findNeedles(dir, needles), [], `no byte of G in ${name}'s files`)
    }
  })
})
