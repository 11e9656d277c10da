/**
 * The comparison with the keepers' copy (src/audit/keeper-check.ts, pure) and
 * the copy record itself (src/records/audit-copy.ts): a copy vouches for the
 * prefix up to its entry; cut, rewritten and foreign-signed logs are told apart;
 * a copy opens only with the personal group key and only under its own ID.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toHex } from '../../src/crypto/bytes.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { generateSigningKey, sign, type SigningKey } from '../../src/crypto/sign.js'
import { checkpointMessage } from '../../src/audit/chain.js'
import { combineVerdicts, compareWithCopies, type CheckpointCopy } from '../../src/audit/keeper-check.js'
import { auditCopyId, openAuditCopy, sealAuditCopy } from '../../src/records/audit-copy.js'
import { decodeRecord, signRecord } from '../../src/records/record.js'

const node = generateSigningKey()
const hashOf = (seq: number, variant = ''): string => toHex(new Uint8Array(32).fill((seq * 7 + variant.length) & 0xff))
const copy = (upTo: number, key: SigningKey = node, head = hashOf(upTo)): CheckpointCopy =>
  ({ upTo, head, sig: toHex(sign(key, checkpointMessage(upTo, head))), key: toHex(key.publicKey) })
const local = (tail: number, changedFrom = Infinity) => (seq: number): string | undefined => seq > tail ? undefined : hashOf(seq, seq >= changedFrom ? 'x' : '')

test('every copy matches: ok, with the newest copy named', () => {
  const k = compareWithCopies([copy(10), copy(30), copy(20)], node.publicKey, 35, local(35), true)
  assert.deepEqual(k, { refreshed: true, checkpoints: 3, newestUpTo: 30, ok: true })
})

test('a copy past the local end: truncated, broken one past the newest copy that matches', () => {
  const k = compareWithCopies([copy(10), copy(20), copy(30)], node.publicKey, 25, local(25), true)
  assert.deepEqual([k.ok, k.reason, k.brokenAt], [false, 'truncated', 21])
})

test('a copy whose entry now has another hash: rewritten', () => {
  const k = compareWithCopies([copy(10), copy(20), copy(30)], node.publicKey, 40, local(40, 15), true)
  assert.deepEqual([k.ok, k.reason, k.brokenAt], [false, 'rewritten', 11])
})

test('a copy not signed by this node\'s key: foreign-key', () => {
  const other = generateSigningKey()
  assert.equal(compareWithCopies([copy(10), copy(20, other)], node.publicKey, 40, local(40), true).reason, 'foreign-key')
  const forged = { ...copy(20), sig: copy(21).sig }
  assert.equal(compareWithCopies([forged], node.publicKey, 40, local(40), true).reason, 'foreign-key')
})

test('no copies yet: ok with nothing compared; the error says why the copy was not refreshed', () => {
  assert.deepEqual(compareWithCopies([], node.publicKey, 5, local(5), false, 'no keeper'), { refreshed: false, checkpoints: 0, newestUpTo: 0, error: 'no keeper', ok: true })
})

test('combined verdict: a broken local chain names its exact entry; otherwise the copies\' bound is the answer', () => {
  const intact = { ok: true, entries: 40, checkpoints: 4, signedUpTo: 30, tail: { seq: 40, hash: hashOf(40) } }
  const cut = compareWithCopies([copy(30), copy(50)], node.publicKey, 40, local(40), true)
  assert.deepEqual([combineVerdicts(intact, cut).ok, combineVerdicts(intact, cut).brokenAt, combineVerdicts(intact, cut).reason], [false, 31, 'truncated'])
  const broken = { ...intact, ok: false, brokenAt: 37, reason: 'hash-mismatch' as const }
  assert.deepEqual([combineVerdicts(broken, cut).brokenAt, combineVerdicts(broken, cut).reason], [37, 'hash-mismatch'])
  assert.equal(combineVerdicts(intact, undefined), intact)
})

test('the copy record: sealed with the personal key, opened only with it, bound to its checkpoint by its ID', () => {
  const entity = generateSigningKey()
  const gid = newGroupId()
  const key = randomBytes(32)
  const c = { peer: '12D3KooWexample', key: toHex(node.publicKey), upTo: 7, head: hashOf(7), sig: copy(7).sig, at: 1_800_000_000_000 }
  const r = sealAuditCopy(entity, gid, 1024 * 1_800_000_000_000, 1, key, c)
  assert.equal(r.recordId, auditCopyId(node.publicKey, c.head))
  const d = decodeRecord(r.bytes)
  assert.deepEqual(openAuditCopy(d as any, key), c)
  assert.throws(() => openAuditCopy(d as any, randomBytes(32)))
  assert.ok(!Buffer.from(r.bytes).toString('latin1').includes(c.head), 'the head is not in the clear')
  // The same ciphertext under another checkpoint's ID does not open (the ID is in the AAD and checked).
  const moved = signRecord(entity, { t: 'audit-copy', groupId: gid, recordId: auditCopyId(node.publicKey, hashOf(8)), clock: r.rec.c, body: r.rec.b })
  assert.throws(() => openAuditCopy(moved as any, key))
})
