/**
 * Batch-signed records (version 2, docs/RECORDS.md): a rotation's re-encrypted
 * items under one signature over a Merkle root, each carrying its path. Every
 * record verifies alone through decodeRecord and through the bulk verifier; a
 * tampered path, a wrong leaf index, a path of another batch and a root signed
 * by another key are each refused with its own reason; one Ed25519 verify per
 * batch; single-signed records are untouched; no other kind may be batch-signed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decode as cborDecode } from 'cborg'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import { sha256 } from '../../src/crypto/hash.js'
import { uuidToBytes } from '../../src/crypto/ids.js'
import { sign } from '../../src/crypto/sign.js'
import { leafHash, merkle, MAX_PATH, rootCacheStats, rootFromPath, rootMessage } from '../../src/records/batch.js'
import { decodeFailure, decodeRecord, MAX_BATCH_LEAVES, prepareRecord, signBatch, signRecord, type VerifiedRecord } from '../../src/records/record.js'
import { openItem, reencryptItem, reencryptItems, sealItemUnsigned, type ItemBody } from '../../src/records/item.js'
import { Verifier } from '../../src/replication/verifier.js'
import { at, item, makeGroup, newKey, plainOf } from '../helpers/records.js'

const owner = newKey()
const g = makeGroup(owner, [], { name: 'batch test group' })
const oldKey = g.keys.get(1)!
const newK = new Uint8Array(32).fill(7)

const originals = Array.from({ length: 37 }, (_, i) => item(g, owner, at(10 + i), { plain: plainOf({ n: i }) }))
const batch = (rs = originals, signer = owner): Array<VerifiedRecord<ItemBody>> => reencryptItems(rs, () => oldKey, signer, 2, newK)

/** Why decodeRecord refused `bytes` (fails the test if it decoded). */
function refusal (bytes: Uint8Array): string {
  try { decodeRecord(bytes) } catch (e) { return decodeFailure(e) }
  assert.fail('a tampered record decoded')
}

/** The record's CBOR array, changed by `f`, re-encoded canonically. */
function rewrite (bytes: Uint8Array, f: (a: any[]) => void): Uint8Array {
  const a = cborDecode(bytes, { useMaps: false }) as any[]
  f(a)
  return encodeCanonical(a)
}

test('the tree: for every size up to 70 and every leaf, the path leads to the root, and only at its exact length and index', () => {
  for (let n = 1; n <= 70; n++) {
    const leaves = Array.from({ length: n }, (_, i) => sha256(new Uint8Array([i, n])))
    const { root, paths } = merkle(leaves)
    for (let i = 0; i < n; i++) {
      const p = paths[i]!
      assert.deepEqual(rootFromPath(leaves[i]!, i, n, p), root, `n=${n} i=${i}`)
      assert.ok(p.length <= Math.ceil(Math.log2(n)))
      assert.equal(rootFromPath(leaves[i]!, i, n, [...p, root]), undefined, 'one hash too many')
      if (p.length > 0) assert.equal(rootFromPath(leaves[i]!, i, n, p.slice(1)), undefined, 'one hash too few')
      if (n > 1) assert.notDeepEqual(rootFromPath(leaves[i]!, (i + 1) % n, n, p), root, 'another index')
      assert.equal(rootFromPath(leaves[i]!, n, n, p), undefined, 'index past the end')
    }
  }
  // a leaf's preimage never doubles as a node's: the same 64 bytes hash differently as either
  const [l0, l1] = [sha256(new Uint8Array([1])), sha256(new Uint8Array([2]))]
  assert.notDeepEqual(leafHash(l0, l1), merkle([l0, l1]).root)
  assert.throws(() => merkle(Array.from({ length: MAX_BATCH_LEAVES + 1 }, () => l0)), RangeError)
})

test('batch-signed re-encryptions: each record verifies alone, opens under the new key only, one Ed25519 verify for the whole batch', () => {
  const b = batch()
  const before = rootCacheStats().verifies
  for (const [k, r] of b.entries()) {
    assert.equal(r.rec.v, 2)
    assert.equal(r.rec.pf!.i, k)
    assert.equal(r.rec.pf!.n, originals.length)
    const d = decodeRecord(r.bytes)
    assert.deepEqual(d.hash, sha256(r.bytes))
    assert.equal(d.signer, r.signer)
    assert.deepEqual(d.rec.b.p, originals[k]!.hash, 'it replaces the version it re-encrypts')
    assert.deepEqual(openItem(d as VerifiedRecord<ItemBody>, newK), openItem(originals[k]!, oldKey))
    assert.throws(() => openItem(d as VerifiedRecord<ItemBody>, oldKey), 'the old key opens none')
  }
  assert.equal(rootCacheStats().verifies - before, 1, 'one signature verified for the batch')
  // All of one root: the same signature, every path different.
  assert.equal(new Set(b.map(r => Buffer.from(r.rec.x).toString('hex'))).size, 1)
  // The records are the same content a single signature would make, plus the proof.
  const single = reencryptItem(originals[0]!, oldKey, owner, 2, newK)
  assert.equal(single.rec.v, 1)
  assert.ok(b[0]!.bytes.length - single.bytes.length <= 40 + 34 * Math.ceil(Math.log2(originals.length)))
})

test('a tampered path, a wrong leaf index, a path of another batch, a root signed by another key: each refused with its reason', () => {
  const b = batch()
  const other = batch(originals.slice(0, 20).map((r, i) => item(g, owner, at(500 + i), { plain: plainOf({ other: i }) })))
  const r = b[5]!.bytes
  assert.deepEqual(rewrite(r, () => {}), r, 'rewrite changes only what it is told to')
  // tampered path: one bit of one hash
  const flipped = rewrite(r, a => { a[7][3][1][4] ^= 0x01 })
  assert.equal(refusal(flipped), 'bad-proof')
  // a wrong leaf index (inside the batch), and one past its end
  assert.equal(refusal(rewrite(r, a => { a[7][1] = 6 })), 'bad-proof')
  assert.equal(refusal(rewrite(r, a => { a[7][1] = originals.length })), 'bad-proof')
  // the path (and index) of a record of another batch, under this batch's root; then with that batch's root and signature too
  assert.equal(refusal(rewrite(r, a => { a[7][3] = other[5]!.rec.pf!.path })), 'bad-proof')
  assert.equal(refusal(rewrite(r, a => { a[7] = cborDecode(other[5]!.bytes, { useMaps: false })[7] })), 'bad-proof')
  // a path one hash too long (still within the bound) / past the bound
  assert.equal(refusal(rewrite(r, a => { a[7][3].push(new Uint8Array(32)) })), 'bad-proof')
  assert.equal(refusal(rewrite(r, a => { a[7][3] = Array.from({ length: MAX_PATH + 1 }, () => new Uint8Array(32)) })), 'malformed')
  // the same root signed by another key (the record still names the owner as signer)
  const pf = b[5]!.rec.pf!
  const forged = sign(newKey(), rootMessage(b[5]!.rec.g, pf.n, pf.root))
  assert.equal(refusal(rewrite(r, a => { a[7][4] = forged })), 'bad-signature')
  // another key's whole batch over the same records: verifies, under that key's name only
  const mallory = newKey()
  const theirs = batch(originals, mallory)
  assert.equal(decodeRecord(theirs[0]!.bytes).signer, theirs[0]!.signer)
  assert.notEqual(theirs[0]!.signer, b[0]!.signer)
  assert.equal(refusal(rewrite(r, a => { a[7][4] = theirs[5]!.rec.x })), 'bad-signature')
  // the root of another group (R binds the group)
  const elsewhere = rewrite(r, a => { a[7][4] = sign(owner, rootMessage(uuidToBytes(makeGroup(owner).gid), pf.n, pf.root)) })
  assert.equal(refusal(elsewhere), 'bad-signature')
  // and the untouched record still verifies
  assert.equal(decodeRecord(r).recordId, b[5]!.recordId)
})

test('the bulk verifier (sync, catch-up) gives the same verdicts, per record, over a mix of single- and batch-signed records', async () => {
  const b = batch()
  const v1 = originals.slice(0, 10).map(r => r.bytes)
  const tampered = rewrite(b[2]!.bytes, a => { a[7][3][0][0] ^= 0x80 })
  const badSig = rewrite(b[3]!.bytes, a => { a[7][4] = sign(newKey(), new Uint8Array(1)) })
  const verifier = new Verifier()
  try {
    const res = await verifier.check([...v1, ...b.map(r => r.bytes), tampered, badSig], 1 << 20)
    assert.ok(res.slice(0, 10 + b.length).every(x => x.ok), 'every honest record verifies')
    assert.deepEqual(res.slice(-2), [{ ok: false, reason: 'bad-proof' }, { ok: false, reason: 'bad-signature' }])
  } finally { await verifier.close() }
  // prepareRecord, what the workers get: the root message for a v2 record, the record slice for v1
  assert.ok(Buffer.from(prepareRecord(b[0]!.bytes).message).toString('latin1').startsWith('cairn/batch-root/v1\0'))
  assert.ok(Buffer.from(prepareRecord(v1[0]!).message).toString('latin1').startsWith('cairn/item/v1\0'))
})

test('single-signed records keep their format and verify unchanged; only re-encrypted versions and new items (not tombstones, not new append-only entries) may be batch-signed', () => {
  const r = item(g, owner, at(900), { plain: plainOf('old format') })
  assert.equal(r.rec.v, 1)
  assert.equal(r.bytes[0], 0x88)
  assert.equal(r.bytes[1], 0x01, 'version 1')
  assert.deepEqual([r.bytes[r.bytes.length - 66], r.bytes[r.bytes.length - 65]], [0x58, 0x40])
  assert.equal(decodeRecord(r.bytes).recordId, r.recordId)
  // a v1 record re-labelled version 2 (or back) is refused
  assert.equal(refusal(rewrite(r.bytes, a => { a[0] = 2 })), 'malformed')
  assert.equal(refusal(rewrite(batch()[0]!.bytes, a => { a[0] = 1 })), 'malformed')
  // other kinds, a tombstone, a new append-only entry: never batch-signed
  const desc = g.descs[0]!
  const asBatch = (u: Parameters<typeof signBatch>[1][number]): Uint8Array => signBatch(owner, [u, u])[0]!.bytes
  assert.equal(refusal(asBatch({ t: 'desc', groupId: g.gid, recordId: desc.recordId, clock: desc.rec.c, body: desc.rec.b })), 'malformed')
  const fresh = originals[0]!.rec.b
  const entry = sealItemUnsigned({ signer: owner, groupId: g.gid, clock: at(21), keyVersion: 1, key: oldKey, plain: plainOf('an entry'), link: { parents: [] } })
  assert.ok(entry.body.l !== undefined)
  assert.equal(refusal(signBatch(owner, [entry, { ...entry, recordId: originals[1]!.recordId }])[0]!.bytes), 'malformed')
  // a new item (no version replaced) may be: a group commit batch's new items are (items/batch-signer.ts)
  const news = signBatch(owner, [{ t: 'item', groupId: g.gid, recordId: originals[0]!.recordId, clock: at(20), body: { ...fresh } }, { t: 'item', groupId: g.gid, recordId: originals[1]!.recordId, clock: at(20), body: { ...originals[1]!.rec.b } }])
  for (const n of news) assert.equal(decodeRecord(n.bytes).rec.v, 2)
  assert.equal(refusal(asBatch({ t: 'item', groupId: g.gid, recordId: originals[0]!.recordId, clock: at(20), body: { ...fresh, p: originals[0]!.hash, del: true, iv: new Uint8Array(0), ct: new Uint8Array(0) } })), 'malformed')
  // the same re-encryption body signed alone is a valid v1 record
  const alone = signRecord(owner, { t: 'item', groupId: g.gid, recordId: originals[0]!.recordId, clock: originals[0]!.rec.c, body: batch()[0]!.rec.b })
  assert.equal(decodeRecord(alone.bytes).rec.v, 1)
  assert.throws(() => signBatch(owner, [{ t: 'item', groupId: g.gid, recordId: originals[0]!.recordId, clock: at(1), body: fresh }, { t: 'item', groupId: makeGroup(owner).gid, recordId: originals[0]!.recordId, clock: at(1), body: fresh }]), RangeError, 'one group per batch')
})
