/**
 * Circles of trust, 3-of-5, end to end with six processes (five members and a
 * keeper) shared by the scenarios of this file, in order:
 *   1. any three members online unseal, read and write; two online fail with
 *      INSUFFICIENT_SHARES (2 of 3) and nothing decrypts — two different triples
 *   2. a holder returning a wrong share is named (badShares / BAD_SHARE) while the
 *      others still serve; never a wrong key
 *   3. no data dir holds the key: the test rebuilds it from the members' own shares
 *      (their vaults and stores) and finds its bytes in no file of any node
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { combineChecked, keyCheckValue } from '../../src/circles/shamir.js'
import { sealShareEnvelope } from '../../src/records/share-envelope.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { stopAll, waitFor } from '../helpers/cli.js'
import { findNeedles, type Needle } from '../helpers/scan.js'
import {
  CircleCluster, auditOf, circleFor, descriptorsIn, entityKeyOf, matchesCommitment, openDb, openOwnShare, shareEnvelopeIn, vaultKeysOf, waitRaw, type Member
} from '../helpers/circle-cluster.js'

after(stopAll)

const MARK = `circlesecret${randomBytes(8).toString('hex')}` // one search token

describe('circle 3-of-5 across five member processes and a keeper', { timeout: 240_000 }, () => {
  let c: CircleCluster
  let A: Member, B: Member, C: Member, D: Member, E: Member
  let gid: string
  const written: Array<{ id: string, content: string }> = []

  before(async () => {
    c = await CircleCluster.start(['A', 'B', 'C', 'D', 'E'], { logLevel: 'debug' })
    ;[A, B, C, D, E] = c.members as [Member, Member, Member, Member, Member]
    gid = await c.createCircle(A, [B, C, D, E], 3, 'three of five')
  })

  const unseal = async (m: Member): Promise<{ status: number, json: any }> => await m.node!.api('POST', `/api/v1/groups/${gid}/unseal`, { ttlSeconds: 600 })

  async function assertSealedOut (m: Member): Promise<void> {
    for (const w of written) {
      const r = await m.node!.api('GET', `/api/v1/items/${w.id}`)
      assert.equal(r.status, 423, `${m.name} reading ${w.id} while sealed: ${r.text}`)
      assert.equal(r.json.error.code, 'CIRCLE_SEALED')
    }
    const l = await m.node!.api('GET', `/api/v1/groups/${gid}/items`)
    assert.equal(l.status, 423, `${m.name} listing while sealed: ${l.text}`)
    assert.equal(l.json.error.code, 'CIRCLE_SEALED')
    const w = await m.node!.api('POST', `/api/v1/groups/${gid}/items`, { content: 'must not be written' })
    assert.equal(w.status, 423, `${m.name} writing while sealed: ${w.text}`)
  }

  async function assertReadsAll (m: Member): Promise<void> {
    for (const w of written) {
      const it = await m.node!.ok('GET', `/api/v1/items/${w.id}`)
      assert.equal(it.content, w.content, `${m.name} reads ${w.id}`)
    }
    const l = await m.node!.ok('GET', `/api/v1/groups/${gid}/items?limit=100`)
    assert.deepEqual(new Set(l.items.map((i: any) => i.content)), new Set(written.map(w => w.content)))
  }

  /** Until `m` stores every written item (ciphertext: readable while sealed). */
  async function waitItems (m: Member): Promise<void> {
    await waitRaw(m, gid, `to hold ${written.length} circle items`, items => written.every(w => items.some(i => i.id === w.id)))
  }

  test('every member holds the descriptor; the circle starts sealed everywhere', async () => {
    for (const m of c.members) {
      const g = await m.node!.ok('GET', `/api/v1/groups/${gid}`)
      assert.equal(g.keyVersion, 1)
      assert.equal(g.circle.threshold, 3)
      assert.deepEqual(new Set(g.circle.members), new Set(c.members.map(x => x.entityId)))
      assert.equal(g.circle.unsealed, false)
      const l = await m.node!.api('GET', `/api/v1/groups/${gid}/items`)
      assert.equal(l.status, 423)
    }
  })

  test('triple A, B, C: A unseals with 3 shares, writes and reads; with A and C only it fails 2 of 3 and nothing decrypts', async () => {
    await Promise.all([c.stopMember(D), c.stopMember(E)])
    const r = await unseal(A)
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.equal(r.json.sharesCollected, 3)
    assert.equal(r.json.threshold, 3)
    assert.equal(r.json.keyVersion, 1)
    assert.deepEqual(new Set(r.json.from), new Set([A.entityId, B.entityId, C.entityId]))
    assert.deepEqual(r.json.badShares, [])
    for (let i = 0; i < 3; i++) {
      const content = `${MARK} written by A #${i}`
      const w = await A.node!.ok('POST', `/api/v1/groups/${gid}/items`, { content })
      assert.equal(w.keyVersion, 1)
      written.push({ id: w.id, content })
    }
    await assertReadsAll(A)
    const found = await A.node!.ok('GET', `/api/v1/search?q=${MARK}`)
    assert.equal(found.results.filter((x: any) => x.groupId === gid).length, 3, 'unsealed, the search index has the items')
    const audit = await auditOf(A.node!, 'circle-unsealed')
    assert.equal(audit.length, 1)
    assert.deepEqual(new Set(audit[0].from), new Set([A.entityId, B.entityId, C.entityId]))
    await waitItems(C) // C stays online for the second triple

    assert.deepEqual((await A.node!.ok('POST', `/api/v1/groups/${gid}/seal`)), { sealed: true })
    await assertSealedOut(A)
    assert.deepEqual((await A.node!.ok('GET', `/api/v1/search?q=${MARK}`)).results, [], 'sealing drops the circle from the search index')
    await c.stopMember(B)
    const f = await unseal(A)
    assert.equal(f.status, 503, JSON.stringify(f.json))
    assert.equal(f.json.error.code, 'INSUFFICIENT_SHARES')
    assert.equal(f.json.error.collected, 2)
    assert.equal(f.json.error.threshold, 3)
    assert.deepEqual(new Set(f.json.error.refused.map((x: any) => x.entityId)), new Set([B.entityId, D.entityId, E.entityId]))
    assert.deepEqual(f.json.error.badShares, [])
    await assertSealedOut(A)
    assert.equal((await A.node!.ok('GET', `/api/v1/groups/${gid}`)).circle.unsealed, false)
    const failed = await auditOf(A.node!, 'unseal-failed')
    assert.equal(failed.length, 1)
    assert.equal(failed[0].collected, 2)
  })

  test('triple C, D, E (A and B stopped): D unseals, reads what A wrote, writes; with C and D only it fails 2 of 3', async () => {
    await c.startMember(D)
    await c.startMember(E)
    await c.waitMesh([A, C, D, E])
    await waitItems(D)
    await waitItems(E)
    await c.stopMember(A)
    await assertSealedOut(D)
    const r = await unseal(D)
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.equal(r.json.sharesCollected, 3)
    assert.deepEqual(new Set(r.json.from), new Set([C.entityId, D.entityId, E.entityId]))
    await assertReadsAll(D)
    const content = `${MARK} written by D`
    const w = await D.node!.ok('POST', `/api/v1/groups/${gid}/items`, { content })
    written.push({ id: w.id, content })
    await assertReadsAll(D)
    await waitItems(C)
    await waitItems(E)

    await D.node!.ok('POST', `/api/v1/groups/${gid}/seal`)
    await c.stopMember(E)
    const f = await unseal(D)
    assert.equal(f.status, 503, JSON.stringify(f.json))
    assert.equal(f.json.error.code, 'INSUFFICIENT_SHARES')
    assert.equal(f.json.error.collected, 2)
    assert.equal(f.json.error.threshold, 3)
    await assertSealedOut(D)
  })

  test('a holder returning a wrong share is named; the unseal succeeds from the others, and fails with BAD_SHARE when it was needed', async () => {
    // B's stored share envelope is replaced, while B is stopped, by one that is
    // correctly signed (by the owner, A) and wrapped for B but holds other share
    // bytes: B's node opens it and serves it like any share.
    const aKey = await entityKeyOf(A.dataDir)
    const orig = shareEnvelopeIn(B.dataDir, gid, 1, B.pub)
    assert.ok(orig !== undefined, 'B holds its share envelope')
    const x = orig.rec.b.x
    const wrong = new Uint8Array([...randomBytes(32), x])
    const forged = sealShareEnvelope(aKey, gid as GroupId, orig.rec.c + 1, 1, orig.rec.b.sv, B.pub, x, wrong)
    const db = openDb(B.dataDir, { readonly: false })
    try {
      const res = db.prepare('UPDATE records SET clock = ?, hash = ?, bytes = ?, size = ? WHERE gid = ? AND rid = ?')
        .run(forged.rec.c, Buffer.from(forged.hash), Buffer.from(forged.bytes), forged.bytes.length, gid, forged.recordId)
      assert.equal(res.changes, 1)
    } finally { db.close() }
    assert.equal(openOwnShare(B.dataDir, await entityKeyOf(B.dataDir), gid, 1).share.join(), wrong.join(), 'B now opens the wrong share')

    await c.startMember(A)
    await c.startMember(B)
    await c.waitMesh([A, B, C, D])
    // A was stopped when D wrote: let it catch up before it reads everything back.
    await waitItems(A)
    // Four online (A, B, C, D; E stopped). So that B's answer is needed before the
    // unseal can finish, C holds its share for manual approval: A has its own and
    // D's, B's is bad, and C is approved only after A has recorded B's as bad.
    await C.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'manual' })
    const pending = unseal(A)
    const req = await waitFor('C to hold A\'s share request', async () => {
      const { requests } = await C.node!.ok('GET', '/api/v1/share-requests')
      return requests.find((q: any) => q.state === 'pending' && q.groupId === gid && q.from === A.entityId)
    })
    await waitFor('A to record B\'s share as bad', async () => (await auditOf(A.node!, 'share-bad')).find(e => e.holder === B.entityId))
    await C.node!.ok('POST', `/api/v1/share-requests/${req.id}/approve`)
    const r = await pending
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.equal(r.json.sharesCollected, 3)
    assert.deepEqual(new Set(r.json.from), new Set([A.entityId, C.entityId, D.entityId]))
    assert.deepEqual(r.json.badShares, [{ entityId: B.entityId }])
    await assertReadsAll(A) // the right key: every item reads back as written
    const released = await auditOf(B.node!, 'share-released')
    assert.ok(released.some(e => e.to === A.entityId && e.groupId === gid), 'B did serve (its wrong) share')
    await C.node!.ok('PUT', `/api/v1/groups/${gid}/approval`, { policy: 'auto' })
    await A.node!.ok('POST', `/api/v1/groups/${gid}/seal`)

    // Exactly three online with B among them: B's share was needed.
    await c.stopMember(D)
    const f = await unseal(A)
    assert.equal(f.status, 503, JSON.stringify(f.json))
    assert.equal(f.json.error.code, 'BAD_SHARE')
    assert.equal(f.json.error.collected, 2)
    assert.equal(f.json.error.threshold, 3)
    assert.deepEqual(f.json.error.badShares, [{ entityId: B.entityId }])
    assert.match(f.json.error.message, new RegExp(B.entityId))
    assert.ok(!f.json.error.refused.some((x: any) => x.entityId === B.entityId), 'B answered: it is named as bad, not as refusing')
    await assertSealedOut(A)
    const bad = await auditOf(A.node!, 'share-bad')
    assert.ok(bad.length >= 2 && bad.every(e => e.holder === B.entityId && e.groupId === gid))
  })

  test('no data dir holds the key: rebuilt by the test from the members\' own shares, its bytes are in no file of any node or the keeper', async () => {
    // kill -9: each store's WAL keeps its recent pages for the scan.
    await c.stopAllNodes({ kill9: true })
    const wals = c.dataDirs().map(d => join(d, 'cairn.db-wal')).filter(f => existsSync(f) && statSync(f).size > 0)
    assert.ok(wals.length > 0, 'some WAL holds pages (the scan covers WALs)')
    const descs = descriptorsIn(A.dataDir, gid)
    const circ = circleFor(descs, 1)
    assert.equal(circ.th, 3)
    assert.equal(circ.com.length, 5)
    for (const m of c.members) assert.equal(Buffer.compare(circleFor(descriptorsIn(m.dataDir, gid), 1).kcv, circ.kcv), 0, `${m.name} has the same descriptor`)
    const shares = new Map<string, Uint8Array>()
    for (const m of c.members) {
      const key = await entityKeyOf(m.dataDir)
      const s = openOwnShare(m.dataDir, key, gid, 1)
      assert.equal(s.sv, circ.sv)
      assert.equal(matchesCommitment(gid, 1, circ, m.pub, s.share), m !== B, `${m.name}'s share ${m === B ? 'fails' : 'matches'} its commitment`)
      shares.set(m.name, s.share)
    }
    const sh = (...names: string[]): Uint8Array[] => names.map(n => shares.get(n)!)
    const key = await combineChecked(sh('A', 'C', 'D'), gid, 1, circ.kcv)
    assert.ok(key !== undefined, 'three good shares rebuild a key that matches the key check value')
    assert.equal(key.length, 32)
    assert.equal(Buffer.compare(keyCheckValue(key, gid, 1), circ.kcv), 0)
    const again = await combineChecked(sh('C', 'D', 'E'), gid, 1, circ.kcv)
    assert.ok(again !== undefined && Buffer.compare(again, key) === 0, 'another triple rebuilds the same key')
    assert.equal(await combineChecked(sh('A', 'C'), gid, 1, circ.kcv), undefined, 'two shares do not')
    assert.equal(await combineChecked(sh('A', 'B', 'C'), gid, 1, circ.kcv), undefined, 'B\'s wrong share does not')

    // The vaults are encrypted, so the byte scan below cannot see into them: open each one.
    for (const m of c.members) {
      const inVault = await vaultKeysOf(m.dataDir)
      assert.deepEqual(inVault.filter(k => k.gid === gid).map(k => k.version), [0], `${m.name}'s vault holds the circle's metadata key (version 0) only`)
      assert.ok(!inVault.some(k => Buffer.compare(k.key, key) === 0), `the circle key is not in ${m.name}'s vault`)
    }

    const b64 = (u: Uint8Array): Uint8Array => new TextEncoder().encode(Buffer.from(u).toString('base64'))
    const hex = (u: Uint8Array): Uint8Array => new TextEncoder().encode(Buffer.from(u).toString('hex'))
    const needles: Needle[] = [
      { what: 'circle key', bytes: key }, { what: 'circle key (hex)', bytes: hex(key) }, { what: 'circle key (base64)', bytes: b64(key) },
      ...[...shares].filter(([n]) => n !== 'B').map(([n, s]) => ({ what: `${n}'s share in the clear`, bytes: s })),
      ...written.map((w, i) => ({ what: `item ${i} plaintext`, bytes: new TextEncoder().encode(w.content) })),
      { what: 'content marker', bytes: new TextEncoder().encode(MARK) }
    ]
    for (const dir of c.dataDirs()) {
      assert.ok(existsSync(join(dir, 'cairn.db')), `${dir} has a store`)
      assert.ok(existsSync(join(dir, 'cairn.log')), `${dir} has a log (the scan covers logs)`)
      assert.deepEqual(findNeedles(dir, needles), [], `secrets found in ${dir}`)
    }
    // Positive control: the scan reads binary files — the (public) key check value is in every member's store.
    for (const m of c.members) assert.ok(findNeedles(m.dataDir, [{ what: 'kcv', bytes: circ.kcv }]).length > 0, `the scan finds the kcv in ${m.name}'s files`)
  })
})
