/**
 * The holder's side of /cairn/shares/1.2.0, end to end: five member processes
 * and a keeper, one 3-of-5 circle, shared by the scenarios of this file.
 *   1. From a libp2p node in the test process: a non-member's request, a replayed
 *      request, a stale one (and a redirected, a forged, a future-dated one) are
 *      refused and audited by the holder with their reason; a member's valid
 *      request from the same test peer gets a share that matches its commitment;
 *      several requests on one stream are each checked, each share opens for the
 *      requester only, each release is audited; a requester giving up while the
 *      holder's person decides ends the holder's pending request.
 *   2. People deciding (all five up; B, C, D approve by hand, E at once): A's
 *      `cairn circle unseal` waits with progress 2 of 3 while D denies and C says
 *      nothing (its own 3 s window ends its request); B is told (SSE, log line,
 *      `cairn circle requests`) and approves 20 s later; the unseal succeeds naming
 *      B approved, D denied, C no answer.
 *   3. Manual approval (D and E stopped, so holder B is needed for K = 3): the
 *      unseal waits until B approves (CLI), a deny counts as no share, and a
 *      request nobody decides ends with the requester's approval window (C runs
 *      with CAIRN_CIRCLES_APPROVAL_WINDOW_SECONDS=3).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { openEvents, type NodeEventMsg } from '../../bench/lib/sse.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { SHARES_PROTOCOL, SHARES_PROTOCOL_1_1, requestShare, signShareRequest, transferInfo, type ShareRequest } from '../../src/circles/share-protocol.js'
import { unwrapWith } from '../../src/crypto/keywrap.js'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey, type SigningKey } from '../../src/crypto/sign.js'
import { Channel } from '../../src/replication/channel.js'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { BIN, stopAll, waitFor } from '../helpers/cli.js'
import { CircleCluster, auditOf, circleFor, descriptorsIn, entityKeyOf, matchesCommitment, type Member } from '../helpers/circle-cluster.js'

let net: CairnLibp2p | undefined
after(async () => {
  await net?.stop()
  await stopAll()
})

const REQUESTER_WINDOW_SECONDS = 3

describe('share holders: who gets a share, and when', { timeout: 240_000 }, () => {
  let c: CircleCluster
  let A: Member, B: Member, C: Member, D: Member, E: Member
  let gid: string

  before(async () => {
    c = await CircleCluster.start(['A', 'B', 'C', 'D', 'E'], { env: { C: { CAIRN_CIRCLES_APPROVAL_WINDOW_SECONDS: String(REQUESTER_WINDOW_SECONDS) } } })
    ;[A, B, C, D, E] = c.members as [Member, Member, Member, Member, Member]
    gid = await c.createCircle(A, [B, C, D, E], 3, 'holders')
  })

  test('bad circle input is refused with a 4xx naming the problem, never a 500', async () => {
    const n = A.node!
    const others = [B, C, D, E].map(m => m.entityId)
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/api/v1/groups', { name: 'k1', circle: { threshold: 1, members: others } }, 400],
      ['POST', '/api/v1/groups', { name: 'k6', circle: { threshold: 6, members: others } }, 400],
      ['POST', '/api/v1/groups', { name: 'k0', circle: { threshold: 0, members: others } }, 400],
      ['POST', '/api/v1/groups', { name: 'kx', circle: { threshold: 2.5, members: others } }, 400],
      ['POST', '/api/v1/groups', { name: 'alone', circle: { threshold: 2, members: [] } }, 400],
      ['POST', '/api/v1/groups', { name: 'self', circle: { threshold: 2, members: [A.entityId] } }, 400],
      ['POST', '/api/v1/groups', { name: 'bad id', circle: { threshold: 2, members: ['cairn1notanentity'] } }, 400],
      ['POST', '/api/v1/groups', { name: 'not a list', circle: { threshold: 2, members: B.entityId } }, 400],
      ['POST', '/api/v1/groups', { name: 'policy', circle: { threshold: 2, members: others, approval: 'sometimes' } }, 400],
      ['POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 0 }, 400],
      ['POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 'long' }, 400],
      ['POST', `/api/v1/groups/${A.node!.status.personalGroupId}/unseal`, {}, 409],
      ['POST', '/api/v1/groups/6b1c8f52-2a43-4a8e-9d0e-3f1d2c4b5a69/unseal', {}, 404],
      ['PUT', `/api/v1/groups/${gid}/approval`, { policy: 'sometimes' }, 400],
      ['POST', '/api/v1/share-requests/no-such-request/approve', undefined, 404],
      ['POST', '/api/v1/share-requests/no-such-request/deny', undefined, 404]
    ]
    for (const [method, path, body, want] of cases) {
      const r = await n.api(method, path, body)
      assert.equal(r.status, want, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${r.text}`)
      assert.match(r.json?.error?.code ?? '', /^[A-Z_]+$/)
    }
    assert.equal((await n.ok('GET', '/api/v1/groups')).groups.filter((g: any) => g.circle === true).length, 1, 'no circle was made by the refused requests')
  })

  describe('requests from a libp2p peer in the test process', () => {
    let aKey: SigningKey
    const send = async (msg: { q: ShareRequest, s: Uint8Array }): Promise<Record<string, unknown>> => {
      const stream = await net!.dialProtocol(peerIdFromString(B.node!.peerId), SHARES_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const ch = new Channel(stream, 4096, 10_000)
      try {
        await ch.send(msg)
        return await ch.recv()
      } finally { await ch.close() }
    }
    const refusedAt = async (reason: string): Promise<any[]> => (await auditOf(B.node!, 'share-refused')).filter(e => e.reason === reason)

    before(async () => {
      aKey = await entityKeyOf(A.dataDir)
      net = await createNetwork({
        privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false,
        inboundPerSecond: 100, maxConnections: 50, maxRecordBytes: 1 << 20, privateAddresses: true
      })
      if (net.status !== 'started') await net.start()
      await net.dial(multiaddr(B.node!.listenAddrs[0]!), { signal: AbortSignal.timeout(10_000) })
    })

    test('a member\'s valid request gets B\'s share, wrapped for it, matching B\'s commitment (the harness is right)', async () => {
      const grant = await requestShare(net!, peerIdFromString(B.node!.peerId), aKey, gid, 1, B.pub, 10_000)
      const circ = circleFor(descriptorsIn(A.dataDir, gid), 1)
      assert.equal(grant.sv, circ.sv)
      assert.ok(matchesCommitment(gid, 1, circ, B.pub, grant.share), 'the share opens for A and matches B\'s commitment')
      const rel = await auditOf(B.node!, 'share-released')
      assert.ok(rel.some(e => e.to === A.entityId && e.peer === net!.peerId.toString() && e.groupId === gid), JSON.stringify(rel))
    })

    test('a non-member\'s request is refused: not-a-member, audited', async () => {
      const stranger = generateSigningKey()
      const ans = await send(signShareRequest(stranger, gid, 1, B.pub))
      assert.deepEqual(ans, { err: 'not-a-member' })
      const a = await refusedAt('not-a-member')
      assert.equal(a.length, 1)
      assert.equal(a[0].from, entityIdFromPublicKey(stranger.publicKey))
      assert.equal(a[0].groupId, gid)
      assert.equal(a[0].peer, net!.peerId.toString())
    })

    test('the same signed request sent twice: answered once, then refused as a replay, audited', async () => {
      const req = signShareRequest(aKey, gid, 1, B.pub)
      const first = await send(req)
      assert.equal(first.err, undefined, JSON.stringify(first))
      assert.ok(first.ct instanceof Uint8Array && typeof first.x === 'number', 'the first gets a wrapped share')
      const second = await send(req)
      assert.deepEqual(second, { err: 'replay' })
      const a = await refusedAt('replay')
      assert.equal(a.length, 1)
      assert.equal(a[0].from, A.entityId)
      assert.equal(a[0].groupId, gid)
    })

    test('a request signed 10 minutes ago is refused as stale (and one dated 10 minutes ahead), audited', async () => {
      assert.deepEqual(await send(signShareRequest(aKey, gid, 1, B.pub, Date.now() - 10 * 60_000)), { err: 'stale' })
      assert.deepEqual(await send(signShareRequest(aKey, gid, 1, B.pub, Date.now() + 10 * 60_000)), { err: 'stale' })
      const a = await refusedAt('stale')
      assert.equal(a.length, 2)
      assert.ok(a.every(e => e.from === A.entityId && e.groupId === gid))
    })

    test('a request naming another holder, and one with a forged signature, are refused', async () => {
      assert.deepEqual(await send(signShareRequest(aKey, gid, 1, C.pub)), { err: 'wrong-holder' })
      const forged = signShareRequest(aKey, gid, 1, B.pub)
      forged.q.kv = 2 // the signature covers kv
      assert.deepEqual(await send(forged), { err: 'bad-signature' })
      assert.equal((await refusedAt('wrong-holder')).length, 1)
      assert.equal((await refusedAt('bad-signature')).length, 1)
      // Only the one valid and the one first-of-a-replay request were served.
      assert.equal((await auditOf(B.node!, 'share-released')).filter(e => e.peer === net!.peerId.toString()).length, 2)
    })

    test('one 1.2.0 stream carries several requests: each signed and checked (a replay on it is refused, then the stream ends), each share wrapped for A only, each release audited', async () => {
      const released = async (): Promise<number> => (await auditOf(B.node!, 'share-released')).filter(e => e.peer === net!.peerId.toString()).length
      const before = await released()
      const stranger = generateSigningKey()
      const stream = await net!.dialProtocol(peerIdFromString(B.node!.peerId), SHARES_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const ch = new Channel(stream, 4096, 10_000)
      try {
        const first = signShareRequest(aKey, gid, 1, B.pub)
        for (const req of [first, signShareRequest(aKey, gid, 1, B.pub)]) {
          await ch.send(req)
          const a = await ch.recv() as { x: number, sv: number, epk: Uint8Array, nonce: Uint8Array, ct: Uint8Array }
          assert.ok(a.ct instanceof Uint8Array, JSON.stringify(a))
          const info = transferInfo(req.q, a.x, a.sv)
          const share = unwrapWith(aKey.seed, aKey.publicKey, a, info)
          assert.ok(matchesCommitment(gid, 1, circleFor(descriptorsIn(A.dataDir, gid), 1), B.pub, share), 'the share opens for A and matches B\'s commitment')
          assert.throws(() => unwrapWith(stranger.seed, stranger.publicKey, a, info), 'nobody else opens it')
          assert.throws(() => unwrapWith(aKey.seed, aKey.publicKey, a, transferInfo(first === req ? signShareRequest(aKey, gid, 1, B.pub).q : first.q, a.x, a.sv)), 'nor does A in another request')
        }
        await ch.send(first)
        assert.deepEqual(await ch.recv(), { err: 'replay' })
        await assert.rejects(ch.recv(5000), 'after a refusal the holder ends the stream')
      } finally { ch.abort('done') }
      assert.equal(await released(), before + 2)
    })

    test('requestShare keeps the stream for the next request to the same holder; a 1.1.0 stream still gets one answer', async () => {
      const peer = peerIdFromString(B.node!.peerId)
      const shareStreams = (): number => net!.getConnections(peer).flatMap(c => c.streams).filter(st => st.protocol === SHARES_PROTOCOL && st.status === 'open').length
      const g1 = await requestShare(net!, peer, aKey, gid, 1, B.pub, 10_000)
      assert.equal(shareStreams(), 1, 'the first request\'s stream stays open for the next')
      const g2 = await requestShare(net!, peer, aKey, gid, 1, B.pub, 10_000)
      assert.equal(shareStreams(), 1, 'the second went on the same stream')
      assert.deepEqual([g1.x, g1.sv], [g2.x, g2.sv])
      const old = await net!.dialProtocol(peer, SHARES_PROTOCOL_1_1, { signal: AbortSignal.timeout(10_000) })
      const ch = new Channel(old, 4096, 10_000)
      try {
        await ch.send(signShareRequest(aKey, gid, 1, B.pub))
        assert.ok((await ch.recv()).ct instanceof Uint8Array)
        await assert.rejects(ch.recv(5000), 'a 1.1.0 stream carries one request')
      } finally { ch.abort('done') }
    })

    test('a requester that gives up while B\'s person decides ends B\'s pending request at once', async () => {
      await B.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'manual' })
      try {
        const ac = new AbortController()
        let waited: number | undefined
        const asked = requestShare(net!, peerIdFromString(B.node!.peerId), aKey, gid, 1, B.pub, 10_000, { waitMs: 120_000, signal: ac.signal, onWait: until => { waited = until } })
        const pending = await waitFor('B to queue the request for its person', async () => {
          const { requests } = await B.node!.ok('GET', '/api/v1/share-requests')
          return requests.find((q: any) => q.state === 'pending' && q.groupId === gid && q.from === A.entityId)
        })
        await waitFor('the requester to hear that a person decides', () => waited !== undefined)
        ac.abort()
        await assert.rejects(asked, (e: any) => e.details?.reason === 'cancelled')
        await waitFor('B\'s request to end', async () => {
          const { requests } = await B.node!.ok('GET', '/api/v1/share-requests')
          return requests.some((q: any) => q.id === pending.id && q.state === 'expired')
        }, 10_000)
        assert.equal((await B.node!.api('POST', `/api/v1/share-requests/${pending.id}/approve`)).status, 409, 'too late to approve')
      } finally {
        await B.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'auto' })
      }
    })

    test('a request cancelled as its stream opens, and one whose stream is reset as soon as it is sent, leave nothing pending at a manual holder', async () => {
      await B.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'manual' })
      try {
        const me = net!.peerId.toString()
        const pendingFromMe = async (): Promise<any[]> => ((await B.node!.ok('GET', '/api/v1/share-requests')).requests as any[]).filter(q => q.peerId === me && q.state === 'pending')
        // The requester got its shares elsewhere just as this stream opened: it must not send the request at all.
        const cancel = new AbortController()
        const racing = new Proxy(net!, {
          get: (t, k) => {
            if (k === 'dialProtocol') return async (...a: Parameters<CairnLibp2p['dialProtocol']>) => { const s = await t.dialProtocol(...a); cancel.abort(); return s }
            const v = Reflect.get(t, k)
            return typeof v === 'function' ? v.bind(t) : v
          }
        })
        await assert.rejects(requestShare(racing, peerIdFromString(B.node!.peerId), aKey, gid, 1, B.pub, 10_000, { waitMs: 60_000, signal: cancel.signal }), (e: any) => e.details?.reason === 'cancelled')
        // The holder reads a request whose stream is already gone: the request ends with it, not at its 60 s deadline.
        const stream = await net!.dialProtocol(peerIdFromString(B.node!.peerId), SHARES_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
        const ch = new Channel(stream, 4096, 10_000)
        await ch.send(signShareRequest(aKey, gid, 1, B.pub, Date.now(), 60_000))
        ch.abort('gone')
        await new Promise(resolve => setTimeout(resolve, 1500))
        await waitFor('B to end every request from this peer', async () => (await pendingFromMe()).length === 0, 15_000)
        assert.ok(!(await auditOf(B.node!, 'share-released')).some(e => e.peer === me && e.policy === 'manual'), 'nothing was released for them')
      } finally {
        await B.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'auto' })
      }
    })
  })

  describe('an unseal waits for people (B approves 20 s later, D denies, C never answers, E answers at once)', () => {
    const pendingAt = async (holder: Member, from: Member): Promise<any> => await waitFor(`${holder.name} to queue ${from.name}'s request`, async () => {
      const { requests } = await holder.node!.ok('GET', '/api/v1/share-requests')
      return requests.find((q: any) => q.state === 'pending' && q.groupId === gid && q.from === from.entityId)
    })

    before(async () => {
      await net?.stop()
      net = undefined
      for (const m of [B, C, D]) await m.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'manual' })
    })

    after(async () => {
      // Whatever happened, no attempt of this scenario lingers into the next ones.
      await A.node!.api('DELETE', `/api/v1/groups/${gid}/unseal`)
      for (const m of [B, C, D]) await m.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'auto' })
      await A.node!.api('POST', `/api/v1/groups/${gid}/seal`)
    })

    test('the unseal waits with progress 2 of 3, B is told and approves 20 s later, and the result names who approved, denied, did not answer', { timeout: 150_000 }, async () => {
      const eventsAtB: NodeEventMsg[] = []
      const sse = openEvents(B.node!.apiPort, B.node!.token, `?group=${gid}`, e => { eventsAtB.push(e) })
      await sse.ready
      try {
        const shown = A.node!.cli(['group', 'show', gid])
        assert.equal(shown.status, 0, shown.stderr)
        assert.match(shown.stdout, /3 of 5 shares needed/)
        assert.match(shown.stdout, /state\s+sealed/)
        // A person runs `cairn circle unseal`; it follows the unseal until people have answered.
        const proc = spawn(process.execPath, [BIN, '--json', '--data-dir', A.dataDir, 'circle', 'unseal', gid, '--ttl', '600'], { stdio: ['ignore', 'pipe', 'pipe'] })
        let out = ''
        let exited: number | null | undefined
        proc.stdout.on('data', d => { out += String(d) })
        const exit = new Promise<number | null>(resolve => proc.once('exit', code => { exited = code; resolve(code) }))
        try {
          const atB = await pendingAt(B, A)
          const atD = await pendingAt(D, A)
          // B's person is told three ways: an SSE event, a log line naming the request, the CLI list.
          await waitFor('B\'s SSE share-request event', () => eventsAtB.some(e => e.type === 'share-request' && e.id === atB.id && e.kind === 'pending'))
          await waitFor('B\'s log line', () => readFileSync(join(B.dataDir, 'cairn.log'), 'utf8').split('\n').some(l => l.includes(atB.id) && l.includes('cairn circle approve')))
          const listed = B.node!.cli(['circle', 'requests'])
          assert.equal(listed.status, 0, listed.stderr)
          assert.ok(listed.stdout.includes(atB.id) && listed.stdout.includes(A.entityId), listed.stdout)
          assert.match(listed.stdout, /waiting for you/)
          assert.deepEqual(await D.node!.ok('POST', `/api/v1/share-requests/${atD.id}/deny`), { id: atD.id, state: 'denied' })
          // A: its own share and E's; D denied; B still deciding (and C, until its 3 s window ends).
          const p = await waitFor('A\'s progress to show D\'s deny', async () => {
            const r = await A.node!.ok('GET', `/api/v1/groups/${gid}/unseal`)
            return r.denied.includes(D.entityId) && r.collected === 2 ? r : undefined
          })
          assert.equal(p.state, 'pending')
          assert.equal(p.needed, 3)
          assert.ok(p.waiting.includes(B.entityId), JSON.stringify(p))
          assert.ok(p.holders.filter((h: any) => h.state === 'waiting').every((h: any) => typeof h.waitingUntil === 'string'), JSON.stringify(p.holders))
          assert.ok(p.approved.includes(E.entityId), JSON.stringify(p))
          const during = A.node!.cli(['group', 'show', gid])
          assert.match(during.stdout, /pending: 2 of 3/)
          await new Promise(resolve => setTimeout(resolve, 20_000))
          assert.equal(exited, undefined, `the unseal waited for B: ${out}`)
          assert.equal((await A.node!.api('GET', `/api/v1/groups/${gid}/items`)).status, 423, 'still sealed while B decides')
          const ok = B.node!.cli(['--json', 'circle', 'approve', atB.id])
          assert.equal(ok.status, 0, ok.stderr)
          assert.equal(await exit, 0, out)
          const r = JSON.parse(out)
          assert.equal(r.state, 'unsealed')
          assert.equal(r.sharesCollected, 3)
          assert.deepEqual(new Set(r.from), new Set([A.entityId, B.entityId, E.entityId]))
          assert.deepEqual(new Set(r.approved), new Set([B.entityId, E.entityId]))
          assert.deepEqual(r.denied, [D.entityId])
          assert.deepEqual(r.noAnswer, [C.entityId])
        } finally {
          if (exited === undefined) proc.kill('SIGKILL')
        }
        // C's request ended unanswered: it cannot be approved late, and C released nothing.
        const atC = await waitFor('C\'s request to end', async () => {
          const { requests } = await C.node!.ok('GET', '/api/v1/share-requests')
          return requests.find((q: any) => q.groupId === gid && q.from === A.entityId && q.state === 'expired')
        })
        assert.equal((await C.node!.api('POST', `/api/v1/share-requests/${atC.id}/approve`)).status, 409)
        assert.ok(!(await auditOf(C.node!, 'share-released')).some(e => e.to === A.entityId && e.groupId === gid && e.policy === 'manual'))
        const w = await A.node!.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'opened by three' })
        assert.equal((await A.node!.ok('GET', `/api/v1/items/${w.id}`)).content, 'opened by three')
        const shownAfter = A.node!.cli(['group', 'show', gid])
        assert.match(shownAfter.stdout, /state\s+unsealed until/)
        const audited = (await auditOf(A.node!, 'circle-unsealed')).at(-1)
        assert.deepEqual(audited.denied, [D.entityId])
        assert.deepEqual(audited.noAnswer, [C.entityId])
        assert.ok(eventsAtB.some(e => e.type === 'share-request' && e.kind === 'approved'), JSON.stringify(eventsAtB))
      } finally { sse.close() }
    })
  })

  describe('manual approval (D and E stopped: B is needed for 3 of 5)', () => {
    before(async () => {
      await Promise.all([c.stopMember(D), c.stopMember(E)])
      await B.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'manual' })
      assert.equal((await B.node!.ok('GET', `/api/v1/groups/${gid}`)).circle.approval, 'manual')
    })

    /** Start an unseal on `m`; resolves with the HTTP answer, `settled` tells whether it has. */
    function startUnseal (m: Member): { settled: () => boolean, result: Promise<{ status: number, json: any }> } {
      let done = false
      const result = m.node!.api('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 600 }).then(r => { done = true; return r })
      return { settled: () => done, result }
    }

    async function pendingAtB (from: Member): Promise<any> {
      return await waitFor(`B to queue ${from.name}'s request`, async () => {
        const { requests } = await B.node!.ok('GET', '/api/v1/share-requests')
        return requests.find((q: any) => q.state === 'pending' && q.groupId === gid && q.from === from.entityId)
      })
    }

    test('the unseal waits while B\'s request is pending, and succeeds once B approves (cairn circle approve)', async () => {
      const u = startUnseal(A)
      const req = await pendingAtB(A)
      assert.equal(req.keyVersion, 1)
      assert.equal(req.peerId, A.node!.peerId)
      // A has its own share and C's: it is still waiting for B.
      await waitFor('A to hold C\'s share', async () => (await auditOf(C.node!, 'share-released')).some(e => e.to === A.entityId))
      assert.equal(u.settled(), false, 'the unseal did not finish before B decided')
      assert.equal((await A.node!.ok('GET', `/api/v1/groups/${gid}`)).circle.unsealed, false)
      const listed = B.node!.cli(['--json', 'circle', 'requests'])
      assert.equal(listed.status, 0, listed.stderr)
      assert.ok(listed.json.requests.some((q: any) => q.id === req.id && q.state === 'pending'))
      const ok = B.node!.cli(['--json', 'circle', 'approve', req.id])
      assert.equal(ok.status, 0, ok.stderr)
      assert.deepEqual(ok.json, { id: req.id, state: 'approved' })
      const r = await u.result
      assert.equal(r.status, 200, JSON.stringify(r.json))
      assert.equal(r.json.sharesCollected, 3)
      assert.deepEqual(new Set(r.json.from), new Set([A.entityId, B.entityId, C.entityId]))
      const w = await A.node!.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'approved by B' })
      assert.equal((await A.node!.ok('GET', `/api/v1/items/${w.id}`)).content, 'approved by B')
      const kinds = (await auditOf(B.node!)).filter(e => e.groupId === gid && (e.from === A.entityId || e.to === A.entityId)).map(e => e.kind)
      for (const k of ['share-request-pending', 'share-request-approved', 'share-released']) assert.ok(kinds.includes(k), `B's audit has ${k}: ${kinds.join(', ')}`)
      assert.notEqual(B.node!.cli(['--json', 'circle', 'approve', req.id]).status, 0, 'a decided request cannot be decided again')
      await A.node!.ok('POST', `/api/v1/groups/${gid}/seal`)
    })

    test('a deny counts as no share: INSUFFICIENT_SHARES, 2 of 3, naming B with reason denied', async () => {
      const u = startUnseal(A)
      const req = await pendingAtB(A)
      assert.deepEqual(await B.node!.ok('POST', `/api/v1/share-requests/${req.id}/deny`), { id: req.id, state: 'denied' })
      const r = await u.result
      assert.equal(r.status, 503, JSON.stringify(r.json))
      assert.equal(r.json.error.code, 'INSUFFICIENT_SHARES')
      assert.equal(r.json.error.collected, 2)
      assert.equal(r.json.error.threshold, 3)
      assert.deepEqual(r.json.error.refused.find((x: any) => x.entityId === B.entityId), { entityId: B.entityId, reason: 'denied' })
      const l = await A.node!.api('GET', `/api/v1/groups/${gid}/items`)
      assert.equal(l.status, 423)
      const { requests } = await B.node!.ok('GET', '/api/v1/share-requests')
      assert.equal(requests.find((q: any) => q.id === req.id).state, 'denied')
      assert.ok((await auditOf(B.node!, 'share-request-denied')).some(e => e.requestId === req.id))
      assert.ok((await auditOf(B.node!, 'share-refused')).some(e => e.reason === 'denied' && e.from === A.entityId))
      const failed = await auditOf(A.node!, 'unseal-failed')
      assert.ok(failed.at(-1).refused.some((x: any) => x.entityId === B.entityId && x.reason === 'denied'))
    })

    test('a request nobody decides ends with the requester\'s approval window, naming B as not answering', async () => {
      const r = await C.node!.api('POST', `/api/v1/groups/${gid}/unseal`, {})
      assert.equal(r.status, 503, JSON.stringify(r.json))
      assert.equal(r.json.error.code, 'INSUFFICIENT_SHARES')
      assert.equal(r.json.error.threshold, 3)
      assert.ok(r.json.error.noAnswer.includes(B.entityId), JSON.stringify(r.json))
      assert.ok(['no-answer', 'approval-timeout'].includes(r.json.error.refused.find((x: any) => x.entityId === B.entityId).reason), JSON.stringify(r.json))
      // C's own share and A's (unless a loaded box kept A past C's short window too).
      const aLate = r.json.error.refused.find((x: any) => x.entityId === A.entityId)
      assert.ok(aLate === undefined || ['no-answer', 'timeout', 'unreachable'].includes(aLate.reason), JSON.stringify(r.json))
      assert.equal(r.json.error.collected, aLate === undefined ? 2 : 1)
      assert.equal((await C.node!.api('GET', `/api/v1/groups/${gid}/items`)).status, 423)
      // The requester gave up and closed its stream: B's request ended with it (before
      // B's own, later deadline), nothing was released to C, and it cannot be approved late.
      const req = await waitFor('B to close C\'s request', async () => {
        const { requests } = await B.node!.ok('GET', '/api/v1/share-requests')
        return requests.find((q: any) => q.groupId === gid && q.from === C.entityId && q.state === 'expired')
      })
      assert.ok(!(await auditOf(B.node!, 'share-released')).some(e => e.to === C.entityId))
      assert.equal((await B.node!.api('POST', `/api/v1/share-requests/${req.id}/approve`)).status, 409)
      // C is not stuck: once B answers at once again, the same node unseals (here with the CLI)…
      await B.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'auto' })
      const ok = C.node!.cli(['--json', 'circle', 'unseal', gid, '--ttl', '1'])
      assert.equal(ok.status, 0, ok.stdout + ok.stderr)
      assert.equal(ok.json.sharesCollected, 3)
      assert.deepEqual(new Set(ok.json.from), new Set([A.entityId, B.entityId, C.entityId]))
      // …for its TTL only: then the key is gone without a seal.
      await waitFor('C\'s key to expire', async () => (await C.node!.api('GET', `/api/v1/groups/${gid}/items`)).status === 423, 30_000)
      assert.equal((await C.node!.ok('GET', `/api/v1/groups/${gid}`)).circle.unsealed, false)
      assert.ok((await auditOf(C.node!, 'circle-sealed')).some(e => e.groupId === gid && e.reason === 'ttl'))
    })
  })
})
