/**
 * New items of one group commit batch are signed as one batch (items/batch-signer.ts,
 * docs/RECORDS.md "Batch-signed records"): one Merkle root per group of the
 * batch, each record carrying its path; a batch's only item of its group keeps
 * a single signature. A real keeper (its own daemon, over TCP) takes them by
 * push, verifies each and stores it; what it stores verifies again on a fresh
 * thread (its own root cache). A write refused in the batch is refused alone.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { decodeRecord, hasKind, type VerifiedRecord } from '../../src/records/record.js'
import type { ItemBody } from '../../src/records/item.js'
import { Verifier } from '../../src/replication/verifier.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { BatchSigner } from '../../src/items/batch-signer.js'
import { sealItemUnsigned } from '../../src/records/item.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { makeClock } from '../../src/crypto/hlc.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll, waitFor } from '../helpers/cli.js'

let A: LocalNode
let K: LocalNode
let P: GroupId
let Q: GroupId

before(async () => {
  ;[A, K] = await Promise.all([localNode(), localNode({ keeper: true })])
  P = (await A.ok('POST', '/api/v1/groups', { name: 'batch one' })).id
  Q = (await A.ok('POST', '/api/v1/groups', { name: 'batch two' })).id
  const ks = await K.ok('GET', '/api/v1/status')
  await A.ok('POST', `/api/v1/groups/${P}/keepers`, { peerId: ks.peerId, multiaddr: ks.listenAddrs[0] })
})
after(async () => { await A?.stop(); await K?.stop(); await stopAll() })

/** The item records of `gid` in a node's database, decoded (and so verified) again. */
function itemsIn (n: LocalNode, gid: GroupId): Array<VerifiedRecord<ItemBody>> {
  const db = new Database(join(n.dataDir, 'cairn.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT bytes FROM records WHERE gid = ?').all(gid) as Array<{ bytes: Buffer }>)
      .map(r => decodeRecord(new Uint8Array(r.bytes)))
      .filter((r): r is VerifiedRecord<ItemBody> => hasKind(r, 'item'))
  } finally { db.close() }
}

/** Writes submitted in one turn share one group commit batch, as concurrent HTTP writes do. */
async function oneBatch (writes: Array<[GroupId, unknown]>): Promise<Array<PromiseSettledResult<{ id: string }>>> {
  const s = A.daemon.services
  return await Promise.allSettled(writes.map(async ([gid, content]) => await s.writes.submit(() => s.items.create(gid, { content: content as string }))))
}

test('new items of one batch: one root per group, a path each; the group\'s only item of the batch is signed alone; a refused write is refused alone', async () => {
  const res = await oneBatch([
    ...Array.from({ length: 12 }, (_, i) => [P, `p ${i}`] as [GroupId, unknown]),
    [Q, 'q alone'],
    [P, { too: 'x'.repeat(2_000_000) }],
    [P, 'p last']
  ])
  assert.equal(res.filter(r => r.status === 'fulfilled').length, 14)
  assert.equal(res[13]!.status, 'rejected', 'the oversized write is refused')
  const ids = new Set(res.flatMap(r => r.status === 'fulfilled' ? [r.value.id] : []))
  const onA = itemsIn(A, P).filter(r => ids.has(r.recordId))
  assert.equal(onA.length, 13)
  const roots = new Set(onA.map(r => Buffer.from(r.rec.pf?.root ?? new Uint8Array()).toString('hex')))
  assert.equal(roots.size, 1, 'the batch\'s 13 new items of P share one root')
  assert.ok(onA.every(r => r.rec.v === 2 && r.rec.pf!.n === 13), 'batch-signed, each naming the batch\'s size')
  assert.deepEqual(onA.map(r => r.rec.pf!.i).sort((a, b) => a - b), Array.from({ length: 13 }, (_, i) => i))
  const q = itemsIn(A, Q).filter(r => ids.has(r.recordId))
  assert.equal(q.length, 1)
  assert.equal(q[0]!.rec.v, 1, 'Q\'s only item of the batch keeps a single signature')
  // Each reads back as written.
  for (const r of res.slice(0, 12)) {
    const got = await A.ok('GET', `/api/v1/items/${(r as PromiseFulfilledResult<{ id: string }>).value.id}`)
    assert.match(got.content, /^p \d+$/)
  }
})

test('a real keeper takes a batch by push: verifies and stores each record; its copies verify on a fresh thread; nothing refused', { timeout: 60_000 }, async () => {
  const res = await oneBatch(Array.from({ length: 20 }, (_, i) => [P, `pushed ${i}`] as [GroupId, unknown]))
  const ids = res.map(r => (r as PromiseFulfilledResult<{ id: string }>).value.id)
  await waitFor('K to hold the batch', async () => { const held = new Set(itemsIn(K, P).map(r => r.recordId)); return ids.every(id => held.has(id)) }, 30_000, 100)
  const onK = itemsIn(K, P).filter(r => ids.includes(r.recordId))
  assert.equal(onK.length, 20)
  assert.ok(onK.every(r => r.rec.v === 2 && r.rec.pf!.n === 20))
  const onA = new Map(itemsIn(A, P).map(r => [r.recordId, Buffer.from(r.hash).toString('hex')]))
  for (const r of onK) assert.equal(Buffer.from(r.hash).toString('hex'), onA.get(r.recordId), 'byte for byte what A stored')
  const verifier = new Verifier()
  try {
    const checked = await verifier.check(onK.map(r => r.bytes), 1 << 20)
    assert.ok(checked.every(c => c.ok), JSON.stringify(checked.filter(c => !c.ok)))
  } finally { await verifier.close() }
  const metrics = (await K.api('GET', '/metrics')).text
  assert.doesNotMatch(metrics, /cairn_records_rejected_total\{[^}]*reason="(bad-proof|bad-signature|malformed)"[^}]*\} [1-9]/)
  const gv = await K.ok('GET', `/api/v1/groups/${P}/verify`)
  assert.equal(gv.ok, true, JSON.stringify(gv.problems))
})

test('a batch whose transaction failed before its signing step leaves nothing in the next batch\'s root (a double of the group commit)', () => {
  let seq: number | undefined
  let later: Array<() => void> = []
  let between = new Set<() => void>()
  const writes = {
    batchSeq: () => seq,
    later: (f: () => void) => { if (seq === undefined) return false; later.push(f); return true },
    beforeLater: (f: () => void) => { if (seq === undefined) return false; between.add(f); return true }
  }
  const signer = new BatchSigner(writes)
  const key = generateSigningKey()
  const gid = '7f0c6a52-9d7e-4d1b-8f3a-2b6c1e0d9a11' as GroupId
  const u = (n: number) => sealItemUnsigned({ signer: key, groupId: gid, clock: makeClock(1_800_000_000_000 + n), keyVersion: 1, key: new Uint8Array(32).fill(3), plain: { type: 'note', content: `n ${n}`, meta: null, createdAt: makeClock(1) } })
  const stored: Array<VerifiedRecord<ItemBody>> = []
  assert.equal(signer.stage(key, u(0), r => stored.push(r)), false, 'outside a batch: the caller signs it')
  seq = 1
  assert.equal(signer.stage(key, u(1), r => stored.push(r)), true)
  assert.equal(signer.stage(key, u(2), r => stored.push(r)), true)
  // batch 1's transaction fails here: neither its signing step nor its second pass runs
  seq = 2; later = []; between = new Set()
  for (const n of [3, 4, 5]) signer.stage(key, u(n), r => stored.push(r))
  assert.equal(between.size, 1, 'one signing step however many items')
  for (const f of between) f()
  for (const f of later) f()
  assert.equal(stored.length, 3)
  assert.ok(stored.every(r => r.rec.v === 2 && r.rec.pf!.n === 3), 'the root covers this batch\'s three items only')
  for (const r of stored) assert.equal(decodeRecord(r.bytes).recordId, r.recordId)
})
