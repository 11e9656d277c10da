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
