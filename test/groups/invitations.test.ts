/**
 * Invitations with bilateral consent, end to end on real processes:
 *   A  owner of the groups; K a keeper; B the invitee who decides;
 *   C  a node whose config auto-accepts A's invitations; D for a revocation.
 * And from a libp2p node in the test process: a descriptor chain pushed at B
 * without its consent (refused), and 200 invitations from a stranger (bounded).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { makeClock } from '../../src/crypto/hlc.js'
import { newGroupId, publicKeyFromEntityId } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { sealName, signDescriptor } from '../../src/records/descriptor.js'
import { signInvite } from '../../src/records/invite.js'
import { Channel } from '../../src/replication/channel.js'
import { DELIVER_PROTOCOL } from '../../src/replication/deliver.js'
import { offerInvite } from '../../src/replication/invite-protocol.js'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { openEvents, type NodeEventMsg } from '../../bench/lib/sse.js'
import { initNodeDir, startNode, stopAll, waitFor, type NodeProcess } from '../helpers/cli.js'
import { filesUnder, findNeedles } from '../helpers/scan.js'

let net: CairnLibp2p | undefined
after(async () => { await net?.stop(); await stopAll() })

const MARK = `invite-marker-${randomBytes(8).toString('hex')}`

function recordsIn (dataDir: string, gid: string): number {
  const db = new Database(join(dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  try { return (db.prepare('SELECT count(*) AS n FROM records WHERE gid = ?').get(gid) as { n: number }).n } finally { db.close() }
}

const dirBytes = (dir: string): number => filesUnder(dir).reduce((n, f) => n + statSync(f).size, 0)

describe('invitations: consent before anything of the group reaches the invitee', { timeout: 300_000 }, () => {
  let A: NodeProcess, B: NodeProcess, C: NodeProcess, D: NodeProcess, K: NodeProcess
  let aId: string, bId: string, cId: string, dId: string
  let G: string
  let item: { id: string }
  let writeNeedle: Array<{ what: string, bytes: Uint8Array }> = []

  before(async () => {
    const [a, b, c, d, k] = [initNodeDir(), initNodeDir(), initNodeDir(), initNodeDir(), initNodeDir({ keeper: true })]
    aId = a.entityId!; bId = b.entityId!; cId = c.entityId!; dId = d.entityId!
    K = await startNode(k.dataDir, { keeper: true })
    A = await startNode(a.dataDir, { bootstrap: [K.listenAddrs[0]!] })
    B = await startNode(b.dataDir, { bootstrap: [A.listenAddrs[0]!] })
    C = await startNode(c.dataDir, { bootstrap: [A.listenAddrs[0]!], env: { CAIRN_MEMBERSHIP_AUTO_ACCEPT: aId } })
    D = await startNode(d.dataDir, { bootstrap: [A.listenAddrs[0]!] })
    G = (await A.ok('POST', '/api/v1/groups', { name: 'project kestrel' })).id
    await A.ok('POST', `/api/v1/groups/${G}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
    item = await A.ok('POST', `/api/v1/groups/${G}/items`, { content: MARK })
  })

  test('invite: B is told (API, SSE, log, CLI) with the inviter, the role and the name; it holds no ciphertext of the group and lists no group', async () => {
    const events: NodeEventMsg[] = []
    const sse = openEvents(B.apiPort, B.token, '', e => { events.push(e) })
    await sse.ready
    try {
      const g = await A.ok('POST', `/api/v1/groups/${G}/members`, { entityId: bId, role: 'member', multiaddr: B.listenAddrs[0] })
      assert.deepEqual(g.members.find((m: any) => m.entityId === bId), { entityId: bId, role: 'member', state: 'invited' })
      const inv = await waitFor('B to list the invitation', async () => (await B.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === G))
      assert.equal(inv.from, aId)
      assert.equal(inv.role, 'member')
      assert.equal(inv.name, 'project kestrel')
      assert.equal(inv.circle, false)
      assert.match(inv.id, /^[0-9a-f]{64}$/)
      assert.ok(typeof inv.createdAt === 'string')
      await waitFor('B\'s SSE invite event', () => events.some(e => e.type === 'invite' && e.id === inv.id && e.kind === 'received'))
      await waitFor('B\'s log line', () => readFileSync(join(B.dataDir, 'cairn.log'), 'utf8').includes(`cairn invite accept ${inv.id}`))
      const listed = B.cli(['invites'])
      assert.equal(listed.status, 0, listed.stderr)
      assert.ok(listed.stdout.includes(inv.id) && listed.stdout.includes('project kestrel'), listed.stdout)
    } finally { sse.close() }
    assert.deepEqual((await B.ok('GET', '/api/v1/groups')).groups.filter((x: any) => x.id === G), [])
    assert.equal((await B.api('GET', `/api/v1/groups/${G}`)).status, 404)
    assert.equal(recordsIn(B.dataDir, G), 0, 'no record of the group in B\'s store')
    // The marker item's ciphertext, as A stores it: in no file of B's data dir.
    const raw = (await A.ok('GET', `/api/v1/groups/${G}/raw`)).items.find((i: any) => i.id === item.id)
    const ct = Buffer.from(raw.ciphertext, 'base64')
    const needle = [{ what: 'the marker item\'s ciphertext', bytes: ct.subarray(16, 48) }]
    assert.deepEqual(findNeedles(B.dataDir, needle), [])
    writeNeedle = needle
  })


  test('accept → B reads the item within seconds; A lists B active; the answer is signed and audited', async () => {
    const inv = (await B.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === G)
    const t0 = Date.now()
    const ok = B.cli(['--json', 'invite', 'accept', inv.id])
    assert.equal(ok.status, 0, ok.stdout + ok.stderr)
    assert.deepEqual(ok.json, { groupId: G, state: 'active' })
    const it = await waitFor('B to read the item', async () => { const r = await B.api('GET', `/api/v1/items/${item.id}`); return r.status === 200 ? r.json : undefined }, 30_000)
    assert.equal(it.content, MARK)
    assert.ok(Date.now() - t0 < 30_000)
    const g = await A.ok('GET', `/api/v1/groups/${G}`)
    assert.deepEqual(g.members.find((m: any) => m.entityId === bId), { entityId: bId, role: 'member', state: 'active' })
    assert.deepEqual((await B.ok('GET', '/api/v1/invites')).invites, [])
    assert.ok(findNeedles(B.dataDir, writeNeedle).length > 0, 'now B holds the ciphertext (the scan finds what is there)')
    const audit = (await B.ok('GET', '/api/v1/audit?limit=1000')).entries.map((e: any) => e.kind)
    for (const k of ['invite-received', 'invite-accepted']) assert.ok(audit.includes(k), k)
    assert.ok((await A.ok('GET', '/api/v1/audit?limit=1000')).entries.some((e: any) => e.kind === 'invite-completed' && e.entityId === bId))
  })

  test('decline → the inviter sees it (B drops from the member list); B keeps nothing of it', async () => {
    const G2 = (await A.ok('POST', '/api/v1/groups', { name: 'not for B' })).id
    await A.ok('POST', `/api/v1/groups/${G2}/members`, { entityId: bId, role: 'viewer' })
    const inv = await waitFor('B to list the second invitation', async () => (await B.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === G2))
    const no = B.cli(['--json', 'invite', 'decline', inv.id])
    assert.equal(no.status, 0, no.stdout + no.stderr)
    assert.deepEqual(no.json, { groupId: G2, state: 'declined' })
    await waitFor('A to drop B from the members', async () => !(await A.ok('GET', `/api/v1/groups/${G2}`)).members.some((m: any) => m.entityId === bId))
    assert.equal(recordsIn(B.dataDir, G2), 0)
    assert.equal((await B.api('POST', `/api/v1/invites/${inv.id}/accept`)).status, 404, 'a declined invitation is gone')
  })

  test('membership.auto_accept: C accepts A\'s invitation without asking and reads', async () => {
    await A.ok('POST', `/api/v1/groups/${G}/members`, { entityId: cId, role: 'member', multiaddr: C.listenAddrs[0] })
    const it = await waitFor('C to read the item', async () => { const r = await C.api('GET', `/api/v1/items/${item.id}`); return r.status === 200 ? r.json : undefined }, 30_000)
    assert.equal(it.content, MARK)
    assert.ok((await C.ok('GET', '/api/v1/audit?limit=1000')).entries.some((e: any) => e.kind === 'invite-auto-accepted' && e.groupId === G))
  })

  test('revoke: an open invitation revoked disappears at the invitee; an active member removed gets a new key version', async () => {
    await A.ok('POST', `/api/v1/groups/${G}/members`, { entityId: dId, role: 'member', multiaddr: D.listenAddrs[0] })
    const inv = await waitFor('D to list the invitation', async () => (await D.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === G))
    const r = A.cli(['--json', 'group', 'remove-member', G, dId])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    await waitFor('D\'s invitation to be revoked', async () => !(await D.ok('GET', '/api/v1/invites')).invites.some((i: any) => i.id === inv.id))
    assert.ok(!(await A.ok('GET', `/api/v1/groups/${G}`)).members.some((m: any) => m.entityId === dId))
    const before = (await A.ok('GET', `/api/v1/groups/${G}`)).keyVersion
    const g = await A.ok('DELETE', `/api/v1/groups/${G}/members/${cId}`)
    assert.equal(g.keyVersion, before + 1, 'revoking a member = removal + new key version')
    assert.ok(!g.members.some((m: any) => m.entityId === cId))
  })

  test('circle with consent: an unaccepted holder\'s share stays on the creator\'s node; accepted, it replicates; declined, the holder is dropped', async () => {
    // D was revoked above: it starts afresh. B decides by hand; D declines.
    const circle = (await A.ok('POST', '/api/v1/groups', { name: 'two of three', circle: { threshold: 2, members: [bId, dId] } })).id
    await A.ok('POST', `/api/v1/groups/${circle}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
    await A.ok('POST', '/api/v1/peers', { multiaddr: D.listenAddrs[0] })
    const view = await A.ok('GET', `/api/v1/groups/${circle}`)
    assert.deepEqual(view.members.filter((m: any) => m.state === 'invited').map((m: any) => m.entityId).sort(), [bId, dId].sort())
    const shareTo = (dataDir: string, who: string): number => {
      const db = new Database(join(dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
      try {
        const pub = Buffer.from(publicKeyFromEntityId(who))
        return (db.prepare("SELECT count(*) AS n FROM records WHERE gid = ? AND kind = 'share' AND instr(bytes, ?) > 0").get(circle, pub) as { n: number }).n
      } finally { db.close() }
    }
    const held = (who: string): number => {
      const db = new Database(join(A.dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
      try { return (db.prepare('SELECT count(*) AS n FROM held_shares WHERE gid = ? AND member = ?').get(circle, Buffer.from(publicKeyFromEntityId(who))) as { n: number }).n } finally { db.close() }
    }
    await waitFor('K to hold the circle', async () => (await K.api('GET', `/api/v1/groups/${circle}/raw`)).status === 200)
    const invB = await waitFor('B\'s circle invitation', async () => (await B.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === circle))
    assert.equal(invB.circle, true)
    const invD = await waitFor('D\'s circle invitation', async () => (await D.ok('GET', '/api/v1/invites')).invites.find((i: any) => i.groupId === circle))
    assert.equal(held(bId), 1, 'B\'s share waits on A\'s node')
    assert.equal(shareTo(A.dataDir, bId) + shareTo(K.dataDir, bId), 0, 'and in no group record, on A or on the keeper')
    assert.equal(recordsIn(B.dataDir, circle), 0)
    await B.ok('POST', `/api/v1/invites/${invB.id}/accept`)
    await waitFor('B to hold its share of the circle', () => shareTo(B.dataDir, bId) === 1, 30_000)
    await waitFor('the keeper to hold B\'s share envelope', () => shareTo(K.dataDir, bId) === 1, 30_000)
    assert.equal(held(bId), 0)
    await D.ok('POST', `/api/v1/invites/${invD.id}/decline`)
    await waitFor('A to drop D from the circle', async () => !(await A.ok('GET', `/api/v1/groups/${circle}`)).members.some((m: any) => m.entityId === dId), 30_000)
    assert.equal(held(dId), 0, 'D\'s share is destroyed: it never left A\'s node')
    assert.equal(shareTo(K.dataDir, dId) + shareTo(D.dataDir, dId), 0)
    // Two of two now: A and B unseal it.
    const g = await A.ok('GET', `/api/v1/groups/${circle}`)
    assert.deepEqual(g.circle.members.sort(), [aId, bId].sort())
    const u = await A.ok('POST', `/api/v1/groups/${circle}/unseal`, { ttlSeconds: 60 })
    assert.deepEqual(new Set(u.from), new Set([aId, bId]))
  })

  describe('from a libp2p node in the test process', () => {
    before(async () => {
      net = await createNetwork({
        privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false,
        inboundPerSecond: 100, maxConnections: 50, maxRecordBytes: 1 << 20, privateAddresses: true
      })
      if (net.status !== 'started') await net.start()
      await net.dial(multiaddr(B.listenAddrs[0]!), { signal: AbortSignal.timeout(10_000) })
    })

    test('a valid descriptor chain listing B, delivered without B\'s consent, is refused (not-for-us) and not adopted', async () => {
      const stranger = generateSigningKey()
      const gid = newGroupId()
      const key = randomBytes(32)
      const d = signDescriptor(stranger, gid, makeClock(Date.now(), 0), {
        ver: 1, p: new Uint8Array(0), cul: 'chatty', ao: false, kv: 1, m: [[stranger.publicKey, 'owner'], [publicKeyFromEntityId(bId), 'member']], k: [], nm: sealName(gid, 1, key, 'pushed at B'), nkv: 1
      })
      const stream = await net!.dialProtocol(peerIdFromString(B.peerId), DELIVER_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const ch = new Channel(stream, 8 << 20, 10_000)
      await ch.send({ recs: [d.bytes] })
      const ans = await ch.recv()
      await ch.close()
      assert.deepEqual(ans, { stored: 0, status: 'refused', reason: 'not-for-us' })
      assert.equal((await B.api('GET', `/api/v1/groups/${gid}`)).status, 404)
      assert.equal(recordsIn(B.dataDir, gid), 0)
    })

    test('200 invitations from a stranger: B keeps at most its cap, its disk and memory stay bounded, the rest is refused', async () => {
      const stranger = generateSigningKey()
      const to = publicKeyFromEntityId(bId)
      const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${B.proc.pid}/status`, 'utf8'))![1]) * 1024
      const diskBefore = dirBytes(B.dataDir)
      const rssBefore = rss()
      const replies: Record<string, number> = {}
      for (let i = 0; i < 200; i++) {
        const inv = signInvite(stranger, {
          groupId: newGroupId(), clock: makeClock(Date.now(), i), to, role: 'member', state: 'open', expiresAt: Date.now() + 86_400_000,
          memberExpiresAt: 0, circle: false, name: `spam ${i} ${'x'.repeat(150)}`
        })
        const r = await offerInvite(net!, peerIdFromString(B.peerId), inv.bytes, [], 10_000)
        const key = r.status === 'refused' ? `refused:${r.reason ?? ''}` : r.status
        replies[key] = (replies[key] ?? 0) + 1
      }
      const pending = (await B.ok('GET', '/api/v1/invites')).invites.filter((i: any) => i.name?.startsWith('spam'))
      assert.equal(pending.length, 10, `membership.max_pending_per_inviter: ${JSON.stringify(replies)}`)
      assert.equal(replies.pending, 10)
      assert.equal((replies['refused:too-many-from-inviter'] ?? 0) + (replies['refused:rate-limited'] ?? 0), 190, JSON.stringify(replies))
      // 200 more, each from a different stranger over the same peer: the per-peer rate limit holds.
      for (let i = 0; i < 200; i++) {
        const s = generateSigningKey()
        const inv = signInvite(s, { groupId: newGroupId(), clock: makeClock(Date.now(), i), to, role: 'member', state: 'open', expiresAt: Date.now() + 86_400_000, memberExpiresAt: 0, circle: false, name: `sybil ${i}` })
        await offerInvite(net!, peerIdFromString(B.peerId), inv.bytes, [], 10_000)
      }
      const all = (await B.ok('GET', '/api/v1/invites')).invites
      assert.ok(all.length <= 30, `at most invites_per_hour_per_peer from one peer: ${all.length}`)
      const grew = dirBytes(B.dataDir) - diskBefore
      assert.ok(grew < 512 * 1024, `B's data dir grew ${grew} bytes for 400 invitations`)
      assert.ok(rss() - rssBefore < 40 * 2 ** 20, `B's RSS grew ${(rss() - rssBefore) / 2 ** 20} MiB`)
      // The refusals are audited in aggregate, not one entry per invitation.
      const entries = (await B.ok('GET', '/api/v1/audit?limit=1000')).entries.filter((e: any) => e.kind === 'invite-received')
      assert.ok(entries.length <= 31, `${entries.length} invite-received entries`)
    })
  })
})
