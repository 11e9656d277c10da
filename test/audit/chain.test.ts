/**
 * The audit chain on a real SQLite file: whatever is done to the table, verify
 * names the first broken entry and why; checkpoints count only under this
 * node's own key; the export round-trips to the same verdict.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import fc from 'fast-check'
import { Store } from '../../src/store/store.js'
import { AuditLog } from '../../src/audit/audit-log.js'
import { generateSigningKey, type SigningKey } from '../../src/crypto/sign.js'
import { verifyExportLines } from '../../src/audit/export.js'
import { tempDir } from '../helpers/cli.js'
import { deleteEntry, editEntry, insertEntry, rechainFrom, rewriteLog, truncateLog } from '../helpers/audit-tamper.js'

function logOf (n: number, key: SigningKey = generateSigningKey(), every = 10): { store: Store, audit: AuditLog, key: SigningKey } {
  const store = new Store(join(tempDir('cairn-audit-'), 'cairn.db'))
  const audit = new AuditLog(store, key, { checkpointEvery: every })
  store.tx(() => { for (let i = 0; i < n; i++) audit.record(i % 3 === 0 ? 'member-removed' : 'item-deleted', { groupId: 'g', i }) })
  return { store, audit, key }
}

/** A fresh AuditLog over the same file (what a restarted node builds). */
const reopen = (l: { store: Store, key: SigningKey }, key = l.key): AuditLog => new AuditLog(l.store, key, { checkpointEvery: 10 })

test('an untouched log verifies: every entry, every checkpoint under the node key', async () => {
  const l = logOf(95)
  const v = await l.audit.verify()
  assert.equal(v.ok, true)
  assert.equal(v.entries, l.store.auditCount())
  assert.equal(v.checkpoints, 10) // entries 10, 20, … are followed by a checkpoint
  assert.equal(v.brokenAt, undefined)
  l.store.close()
})

test('an edited entry: broken at that entry (hash-mismatch)', async () => {
  const l = logOf(50)
  editEntry(l.store.db, 17)
  const v = await reopen(l).verify()
  assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, 17, 'hash-mismatch'])
  l.store.close()
})

test('a deleted entry: broken where it is missing (gap)', async () => {
  const l = logOf(50)
  deleteEntry(l.store.db, 23)
  const v = await reopen(l).verify()
  assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, 23, 'gap'])
  l.store.close()
})

test('the first entry deleted: broken at 1', async () => {
  const l = logOf(5)
  deleteEntry(l.store.db, 1)
  assert.deepEqual((await reopen(l).verify()).brokenAt, 1)
  l.store.close()
})

test('an entry spliced in with a correct hash: the entry after it no longer links (prev-mismatch)', async () => {
  const l = logOf(50)
  insertEntry(l.store.db, 30)
  const v = await reopen(l).verify()
  assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, 31, 'prev-mismatch'])
  l.store.close()
})

test('the whole log rewritten without its member-removed entries and re-signed with a foreign key: broken at the first checkpoint', async () => {
  const l = logOf(50)
  const dropped = rewriteLog(l.store.db, generateSigningKey(), kind => kind === 'member-removed')
  assert.ok(dropped > 0)
  const first = (l.store.db.prepare("SELECT min(seq) AS s FROM audit WHERE kind = 'checkpoint'").get() as { s: number }).s
  const v = await reopen(l).verify()
  assert.equal(v.ok, false)
  assert.equal(v.reason, 'checkpoint-foreign-key')
  assert.equal(v.brokenAt, first)
  l.store.close()
})

test('a rewrite fully re-signed with the node key itself verifies locally (why the keepers hold a copy)', async () => {
  const l = logOf(50)
  rewriteLog(l.store.db, l.key, kind => kind === 'member-removed')
  assert.equal((await reopen(l).verify()).ok, true, 'someone holding node.key can rewrite the local log: only the keepers\' copy shows it')
  l.store.close()
})

test('an edit re-chained with consistent hashes up to a checkpoint it cannot re-sign: checkpoint-mismatch there', async () => {
  const l = logOf(25)
  editEntry(l.store.db, 5)
  rechainFrom(l.store.db, 5)
  const v = await reopen(l).verify()
  assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, 11, 'checkpoint-mismatch'])
  l.store.close()
})

test('a truncated tail still verifies locally (a valid prefix): only the keepers\' copy can show it', async () => {
  const l = logOf(50)
  truncateLog(l.store.db, 30)
  const v = await reopen(l).verify()
  assert.equal(v.ok, true)
  assert.equal(v.tail.seq, 30)
  l.store.close()
})

test('verify judges a snapshot: entries appended while it runs are not read', async () => {
  const l = logOf(12_000, undefined, 1000)
  const p = l.audit.verify()
  l.audit.record('item-deleted', { groupId: 'late' })
  const v = await p
  assert.equal(v.ok, true)
  assert.equal(v.entries, l.store.auditCount() - 1)
  l.store.close()
})

test('record refuses data keys that would collide with an entry\'s own fields', () => {
  const l = logOf(0)
  for (const k of ['seq', 'at', 'kind', 'hash', 'prevHash']) assert.throws(() => l.audit.record('x', { [k]: 1 }))
  l.store.close()
})

test('property: any single edit, deletion or splice inside the log is detected at or right after it; untouched logs verify', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 3, max: 60 }), fc.constantFrom('edit', 'delete', 'insert', 'none'), fc.nat(),
    async (n, op, pick) => {
      const l = logOf(n)
      const total = l.store.auditCount()
      const seq = 2 + (pick % (total - 1))
      if (op === 'edit') editEntry(l.store.db, seq)
      if (op === 'delete') deleteEntry(l.store.db, seq)
      if (op === 'insert') insertEntry(l.store.db, seq)
      const v = await reopen(l).verify()
      l.store.close()
      // Deleting the newest entry is a cut tail: a valid prefix (see the truncation test).
      if (op === 'none' || (op === 'delete' && seq === total)) return v.ok
      return !v.ok && (v.brokenAt === seq || (op === 'insert' && v.brokenAt === seq + 1))
    }), { numRuns: 60 })
})

test('the export (JSON Lines) verifies offline to the same verdict, and a changed line breaks it', async () => {
  const l = logOf(35)
  const lines = [...l.audit.exportLines()]
  assert.equal(lines.length, l.store.auditCount())
  for (const line of lines) assert.deepEqual(JSON.parse(line), l.audit.list(JSON.parse(line).seq - 1, 1)[0])
  assert.deepEqual(await verifyExportLines(lines, l.key.publicKey), await l.audit.verify())
  const bad = lines.map((x, i) => i === 4 ? x.replace('"groupId":"g"', '"groupId":"h"') : x)
  const v = await verifyExportLines(bad, l.key.publicKey)
  assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, 5, 'hash-mismatch'])
  assert.equal((await verifyExportLines(lines, generateSigningKey().publicKey)).reason, 'checkpoint-foreign-key')
  l.store.close()
})
