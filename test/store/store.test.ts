/** The SQLite store: WAL, synchronous=FULL, migrations by user_version, 0600, refuses what it cannot trust. */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Store } from '../../src/store/store.js'
import { SCHEMA_VERSION } from '../../src/store/migrations.js'
import { CairnError } from '../../src/util/errors.js'
import { stopAll, tempDir } from '../helpers/cli.js'

after(stopAll)

const row = (rid: string, bytes = Buffer.from('ciphertext')) => ({
  gid: '11111111-1111-4111-8111-111111111111', rid, kind: 'item', clock: 1024, kv: 1, signer: Buffer.alloc(32, 1), author: Buffer.alloc(32, 1),
  tomb: 0, hash: Buffer.alloc(32, rid.charCodeAt(0)), bytes, size: bytes.length, received: Date.now()
})

test('a new store is WAL with synchronous=FULL, at the current schema version, file mode 0600', () => {
  const path = join(tempDir(), 'cairn.db')
  const s = new Store(path)
  assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(s.db.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL')
  assert.equal(s.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  assert.equal(statSync(path).mode & 0o777, 0o600)
  assert.equal(s.integrityCheck(), 'ok')
  s.close()
})

test('a committed record survives reopening; reopening does not re-run migrations', () => {
  const path = join(tempDir(), 'cairn.db')
  const s = new Store(path)
  s.putHead(row('a'))
  s.close()
  const t = new Store(path)
  assert.deepEqual(t.getHead(row('a').gid, 'a')?.bytes, Buffer.from('ciphertext'))
  assert.equal(t.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.close()
})

test('a transaction that throws leaves nothing behind', () => {
  const s = new Store(join(tempDir(), 'cairn.db'))
  assert.throws(() => s.tx(() => { s.putHead(row('b')); throw new Error('boom') }))
  assert.equal(s.getHead(row('b').gid, 'b'), undefined)
  s.close()
})

test('a database from a newer cairn is refused with a clear error, not guessed at', () => {
  const path = join(tempDir(), 'cairn.db')
  const db = new Database(path)
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.close()
  assert.throws(() => new Store(path), (e: unknown) => e instanceof CairnError && e.code === 'CONFIG')
})

test('a file that is not a SQLite database is refused with a CairnError, not a crash', () => {
  const path = join(tempDir(), 'cairn.db')
  writeFileSync(path, Buffer.alloc(8192, 0x41))
  assert.throws(() => new Store(path), (e: unknown) => e instanceof CairnError && ['CONFIG', 'INTEGRITY'].includes(e.code))
})

test("a keeper's store keeps no member-only index (records_stale, records_by_kind over items); reopened as a member's it has them again, and its queries answer the same", () => {
  const path = join(tempDir(), 'cairn.db')
  const indexes = (s: Store): string[] => (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'").pluck().all() as string[]).sort()
  const gid = row('a').gid
  const k = new Store(path, 'keeper')
  for (const rid of ['a', 'b', 'c']) k.putHead({ ...row(rid), kv: rid === 'c' ? 2 : 1, clock: 2000 - rid.charCodeAt(0) })
  k.putHead({ ...row('d'), tomb: 1 })
  k.putHead({ ...row('e'), kind: 'bind' })
  k.putHead({ ...row('f'), kind: 'bind', tomb: 1, clock: 1 })
  k.putHead({ ...row('g'), kind: 'desc' })
  const answers = (s: Store): unknown => ({
    live: [s.countLive(gid, 'item'), s.countLive(gid, 'bind'), s.countLive(gid, 'desc'), s.countLive(gid, 'key'), s.countAllItems()],
    byKind: ['item', 'bind', 'desc', 'key'].map(kind => s.allOfKind(gid, kind).map(r => r.rid)),
    stale: s.countStaleItems(gid, 2)
  })
  const expected = { live: [3, 1, 1, 0, 3], byKind: [['d', 'c', 'b', 'a'], ['f', 'e'], ['g'], []], stale: 2 }
  assert.ok(!indexes(k).includes('records_stale') && !indexes(k).includes('records_by_kind'), 'no index a keeper never reads is written per record')
  assert.ok(indexes(k).includes('records_by_id') && indexes(k).includes('records_by_hash') && indexes(k).includes('records_by_kind_meta'))
  assert.deepEqual(answers(k), expected, 'live counts leave tombstones out; lists come in (clock, rid) order; without the indexes the queries still answer')
  // The counts a keeper serves (GET /groups, the status page) read indexes only, never every row's page.
  const plan = (sql: string): string => (k.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ gid }) as Array<{ detail: string }>).map(r => r.detail).join(' | ')
  for (const sql of ["SELECT count(*) FROM records WHERE gid = @gid", "SELECT count(*) FROM records WHERE gid = @gid AND kind <> 'item'"]) assert.match(plan(sql), /COVERING INDEX/, sql)
  k.close()
  const m = new Store(path, 'member')
  assert.ok(indexes(m).includes('records_stale') && indexes(m).includes('records_by_kind') && !indexes(m).includes('records_by_kind_meta'))
  assert.deepEqual(answers(m), expected)
  assert.equal(m.integrityCheck(), 'ok')
  m.close()
  const k2 = new Store(path, 'keeper')
  assert.deepEqual(answers(k2), expected, 'a member store reopened as a keeper answers the same')
  k2.close()
})

test("getHeadsMeta reads the heads of a batch's records that exist, by rid, in one call, without their bytes", () => {
  const s = new Store(join(tempDir(), 'cairn.db'))
  s.putHead(row('a', Buffer.from('one')))
  s.putHead(row('c', Buffer.from('three')))
  const got = s.getHeadsMeta(row('a').gid, ['a', 'b', 'c', "x'); DROP TABLE records; --"])
  assert.deepEqual([...got.keys()].sort(), ['a', 'c'])
  const { bytes: _, ...meta } = s.getHead(row('a').gid, 'c')!
  assert.deepEqual(got.get('c'), meta, 'the head as getHeadMeta reads it')
  assert.equal(s.getHeadsMeta('22222222-2222-4222-8222-222222222222', ['a']).size, 0, 'another group: none')
  s.close()
})
