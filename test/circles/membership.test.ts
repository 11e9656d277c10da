/**
 * Circle membership end to end: six member processes and a keeper; A, B, C, D, E
 * form a 3-of-5 circle, F joins later. In order:
 *   1. adding F (while unsealed) re-splits the same key: the key version stays 1,
 *      F's new share rebuilds it with two others', F serves its share in an unseal
 *      and reads the items written before it joined;
 *   2. removing E makes key version 2 and re-encrypts every item (the job reaches
 *      done); E's share of the old key no longer rebuilds the current key; the items
 *      are stored under version 2 and read back by a remaining member after seal and
 *      a fresh unseal; E's own unseal gets nothing;
 *   3. neither key version is in any file (WALs of the running nodes included).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { combineChecked } from '../../src/circles/shamir.js'
import { requestShare } from '../../src/circles/share-protocol.js'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import type { SigningKey } from '../../src/crypto/sign.js'
import { stopAll, waitFor } from '../helpers/cli.js'
import { findNeedles, type Needle } from '../helpers/scan.js'
import {
  CircleCluster, auditOf, circleFor, descriptorsIn, entityKeyOf, matchesCommitment, openOwnShare, shareEnvelopeIn, vaultKeysOf, waitRaw, waitSynced, type Member
} from '../helpers/circle-cluster.js'

let net: CairnLibp2p | undefined
const MARK = `membership${randomBytes(8).toString('hex')}`

after(async () => {
  await net?.stop()
  await stopAll()
})

describe('circle membership: add re-splits the same key, remove rotates it', { timeout: 240_000 }, () => {
  let c: CircleCluster
  let A: Member, B: Member, C: Member, D: Member, E: Member, F: Member
  let gid: string
  const keys = new Map<string, SigningKey>()
  const written: Array<{ id: string, content: string }> = []
  let key1: Uint8Array | undefined
  let key2: Uint8Array | undefined
  const ttl: { before?: string, after?: string } = {}

  before(async () => {
    c = await CircleCluster.start(['A', 'B', 'C', 'D', 'E', 'F'])
    ;[A, B, C, D, E, F] = c.members as [Member, Member, Member, Member, Member, Member]
    gid = await c.createCircle(A, [B, C, D, E], 3, 'membership')
    await Promise.all(c.members.map(async m => { keys.set(m.name, await entityKeyOf(m.dataDir)) }))
    const r = await A.node!.ok('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 600 })
    assert.equal(r.sharesCollected, 3)
    for (let i = 0; i < 6; i++) {
      const content = `${MARK} before any change #${i}`
      written.push({ id: (await A.node!.ok('POST', `/api/v1/groups/${gid}/items`, { content })).id, content })
    }
  })

  const view = async (m: Member): Promise<any> => await m.node!.ok('GET', `/api/v1/groups/${gid}`)
  const share = (m: Member, kv: number): Uint8Array => openOwnShare(m.dataDir, keys.get(m.name)!, gid, kv).share

  async function assertReadsAll (m: Member): Promise<void> {
    for (const w of written) assert.equal((await m.node!.ok('GET', `/api/v1/items/${w.id}`)).content, w.content, `${m.name} reads ${w.id}`)
  }

  /** Until `m` stores every written item, and `pred` holds for them. */
  async function waitItems (m: Member, what: string, pred: (items: any[]) => boolean = () => true): Promise<void> {
    await waitRaw(m, gid, what, items => {
      const mine = items.filter(i => written.some(w => w.id === i.id))
      return mine.length === written.length && pred(mine)
    })
  }

  test('adding F re-splits the same key: key version 1, F\'s share rebuilds it, F serves it in an unseal and reads older items', async () => {
    const before1 = circleFor(descriptorsIn(A.dataDir, gid), 1)
    const g = await A.node!.ok('POST', `/api/v1/groups/${gid}/members`, { entityId: F.entityId, role: 'member' })
    assert.equal(g.keyVersion, 1)
    assert.equal(g.descriptorVersion, 2)
    assert.equal(g.circle.members.length, 6)
    const members = [A, B, C, D, E, F]
    await c.waitGroup(gid, members, v => v.descriptorVersion === 2 && v.keyVersion === 1)
    for (const m of members) await waitSynced(m, gid, 'its share of the new split', () => shareEnvelopeIn(m.dataDir, gid, 1, m.pub)?.rec.b.sv === 2)

    // The test's own check: the new split's shares (F's among them) rebuild the same key.
    const after1 = circleFor(descriptorsIn(A.dataDir, gid), 1)
    assert.equal(after1.sv, 2)
    assert.equal(Buffer.compare(after1.kcv, before1.kcv), 0, 'the key check value is unchanged: the same key')
    for (const m of members) assert.ok(matchesCommitment(gid, 1, after1, m.pub, share(m, 1)), `${m.name}'s new share matches its commitment`)
    key1 = await combineChecked([share(F, 1), share(B, 1), share(D, 1)], gid, 1, after1.kcv)
    assert.ok(key1 !== undefined, 'F, B and D rebuild the key')

    // An unseal in which F's share is needed: C, D and E hold their shares for approval.
    await A.node!.ok('POST', `/api/v1/groups/${gid}/seal`)
    for (const m of [C, D, E]) await m.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'manual' })
    const r = await A.node!.ok('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 600 })
    assert.equal(r.keyVersion, 1)
    assert.equal(r.sharesCollected, 3)
    assert.deepEqual(new Set(r.from), new Set([A.entityId, B.entityId, F.entityId]))
    assert.ok((await auditOf(F.node!, 'share-released')).some(e => e.to === A.entityId && e.groupId === gid))
    await assertReadsAll(A)
    // The requests still waiting at C, D and E ended with the unseal: nobody needs those shares now.
    for (const m of [C, D, E]) {
      const req = await waitFor(`${m.name}'s request to end`, async () => ((await m.node!.ok('GET', '/api/v1/share-requests')).requests as any[]).find(q => q.groupId === gid && q.from === A.entityId && q.state === 'expired'))
      assert.equal((await m.node!.api('POST', `/api/v1/share-requests/${req.id}/approve`)).status, 409)
      await m.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'auto' })
    }

    // F itself: the items written before it joined replicate to it, and it reads them.
    await waitItems(F, 'the items written before F joined')
    const fu = await F.node!.ok('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 600 })
    assert.equal(fu.keyVersion, 1)
    await assertReadsAll(F)
    await F.node!.ok('POST', `/api/v1/groups/${gid}/seal`)
  })

  test('removing E: key version 2, items re-encrypted, E\'s old share no longer rebuilds the key, items still read after seal and unseal', async () => {
    const eOld = share(E, 1)
    const kv1 = circleFor(descriptorsIn(A.dataDir, gid), 1)
    assert.ok(matchesCommitment(gid, 1, kv1, E.pub, eOld), 'E\'s share was a good share of key version 1')

    // A holds the key for two minutes only (less than circles.default_ttl_seconds).
    await A.node!.ok('POST', `/api/v1/groups/${gid}/seal`)
    ttl.before = (await A.node!.ok('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 120 })).expiresAt
    const g = await A.node!.ok('DELETE', `/api/v1/groups/${gid}/members/${E.entityId}`)
    ttl.after = (await view(A)).circle.expiresAt
    assert.equal(g.keyVersion, 2)
    assert.ok(typeof g.jobId === 'string')
    assert.ok(!g.circle.members.includes(E.entityId))
    const job = await waitFor('the re-encryption job', async () => {
      const j = await A.node!.ok('GET', `/api/v1/jobs/${g.jobId}`)
      assert.notEqual(j.state, 'failed', JSON.stringify(j))
      return j.state === 'done' ? j : undefined
    }, 60_000)
    assert.equal(job.done, job.total)
    assert.ok(job.total >= written.length, JSON.stringify(job))
    assert.equal((await view(A)).keyVersion, 2)

    const rest = [A, B, C, D, F]
    await c.waitGroup(gid, rest, v => v.keyVersion === 2)
    for (const m of rest) await waitSynced(m, gid, 'its share of key version 2', () => shareEnvelopeIn(m.dataDir, gid, 2, m.pub) !== undefined)
    assert.equal(shareEnvelopeIn(A.dataDir, gid, 2, E.pub), undefined, 'no share of key version 2 was made for E')
    const kv2 = circleFor(descriptorsIn(A.dataDir, gid), 2)
    assert.equal(kv2.th, 3)
    assert.equal(kv2.com.length, 5)
    assert.ok(!kv2.com.some(([p]) => Buffer.compare(p, E.pub) === 0))
    key2 = await combineChecked([share(A, 2), share(B, 2), share(C, 2)], gid, 2, kv2.kcv)
    assert.ok(key2 !== undefined, 'control: three current shares rebuild key version 2')
    for (const pair of [[B, C], [D, F], [A, F]] as Array<[Member, Member]>) {
      let rebuilt: Uint8Array | undefined
      try { rebuilt = await combineChecked([eOld, share(pair[0], 2), share(pair[1], 2)], gid, 2, kv2.kcv) } catch { rebuilt = undefined } // duplicate x: cannot combine at all
      assert.equal(rebuilt, undefined, `E's old share with ${pair[0].name}'s and ${pair[1].name}'s current shares does not rebuild key version 2`)
    }

    // Every item is stored under key version 2, on the remover and on a remaining member.
    await waitItems(A, 'every item under key version 2', items => items.every(i => i.keyVersion === 2))
    await waitItems(B, 'every item under key version 2', items => items.every(i => i.keyVersion === 2))
    await A.node!.ok('POST', `/api/v1/groups/${gid}/seal`)
    const r = await B.node!.ok('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 600 })
    assert.equal(r.keyVersion, 2)
    assert.equal(r.sharesCollected, 3)
    assert.ok(!r.from.includes(E.entityId))
    await assertReadsAll(B)
    const it = await B.node!.ok('GET', `/api/v1/items/${written[0]!.id}`)
    assert.equal(it.keyVersion, 2)

    // E gets nothing: its node dropped the circle or, until it learns of the
    // removal, every holder refuses it; from the test process, with E's own key,
    // a holder refuses E for either key version.
    const eu = await E.node!.api('POST', `/api/v1/groups/${gid}/unseal`, {})
    assert.notEqual(eu.status, 200, JSON.stringify(eu.json))
    if (eu.status === 503) assert.ok(eu.json.error.refused.some((x: any) => x.reason === 'not-a-member'), JSON.stringify(eu.json))
    else assert.equal(eu.status, 404, JSON.stringify(eu.json))
    assert.notEqual((await E.node!.api('GET', `/api/v1/items/${written[0]!.id}`)).status, 200)
    net = await createNetwork({
      privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false,
      inboundPerSecond: 100, maxConnections: 50, maxRecordBytes: 1 << 20, privateAddresses: true
    })
    if (net.status !== 'started') await net.start()
    await net.dial(multiaddr(B.node!.listenAddrs[0]!), { signal: AbortSignal.timeout(10_000) })
    for (const kv of [1, 2]) {
      await assert.rejects(requestShare(net, peerIdFromString(B.node!.peerId), keys.get('E')!, gid, kv, B.pub, 10_000), (e: any) => e.details?.reason === 'not-a-member')
    }
    assert.equal((await auditOf(B.node!, 'share-refused')).filter(e => e.from === E.entityId && e.reason === 'not-a-member').length >= 2, true)
  })

  test('a member removal does not keep the circle unsealed longer than the unseal asked for', () => {
    assert.ok(ttl.before !== undefined && ttl.after !== undefined)
    assert.ok(Date.parse(ttl.after) <= Date.parse(ttl.before), `unsealed until ${ttl.before}; after removing E, until ${ttl.after}`)
  })

  test('neither key version is in any file of any node (the re-split and the re-encryption included), nor in any vault', async () => {
    assert.ok(key1 !== undefined && key2 !== undefined)
    const enc = (u: Uint8Array): Needle[] => [{ what: 'raw', bytes: u }, { what: 'hex', bytes: new TextEncoder().encode(Buffer.from(u).toString('hex')) }, { what: 'base64', bytes: new TextEncoder().encode(Buffer.from(u).toString('base64')) }]
    const needles = [...enc(key1).map(n => ({ ...n, what: `key version 1 (${n.what})` })), ...enc(key2).map(n => ({ ...n, what: `key version 2 (${n.what})` })),
      ...written.map((w, i) => ({ what: `item ${i} plaintext`, bytes: new TextEncoder().encode(w.content) }))]
    // Scanned while the nodes run: the WALs still hold the recent pages.
    for (const dir of c.dataDirs()) assert.deepEqual(findNeedles(dir, needles), [], `secrets found in ${dir}`)
    for (const m of c.members) {
      const inVault = await vaultKeysOf(m.dataDir)
      assert.ok(!inVault.some(k => Buffer.compare(k.key, key1!) === 0 || Buffer.compare(k.key, key2!) === 0), `no circle key in ${m.name}'s vault`)
    }
  })
})
