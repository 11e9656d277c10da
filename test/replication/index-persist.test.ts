/**
 * The anti-entropy index kept across restarts (replication/index-cache.ts,
 * store/sync-index-table.ts), on real SQLite files: a saved index is loaded
 * only while it agrees with the store, and whatever changed the group's
 * records since it was saved (a write, a replace, a tombstone purge, a group
 * purge, another process editing the file, a crash between) makes the next
 * start rebuild it. A corrupted row is detected and rebuilt, never used.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import { IndexCache, type IndexLoad, type IndexRejection } from '../../src/replication/index-cache.js'
import { SyncIndex } from '../../src/replication/sync-index.js'
import { Store } from '../../src/store/store.js'
import { tempDir } from '../helpers/cli.js'

const N = 3000

function row (gid: GroupId, rid: string, hash = randomBytes(32)): Parameters<Store<GroupId>['putHead']>[0] {
  return { gid, rid, kind: 'item', clock: 1, kv: 1, signer: Buffer.alloc(32), author: null, tomb: 0, hash, bytes: Buffer.from('x'), size: 1, received: Date.now() } as unknown as Parameters<Store<GroupId>['putHead']>[0]
}

/** A store file holding one group of `n` records, closed; and the path to reopen it. */
function seeded (n = N): { path: string, gid: GroupId } {
  const path = join(tempDir('cairn-ixp-'), 'cairn.db')
  const gid = newGroupId()
  const s = new Store<GroupId>(path)
  s.tx(() => { for (let i = 0; i < n; i++) s.putHead(row(gid, `r${i}`)) })
  s.close()
  return { path, gid }
}

interface Opened { store: Store<GroupId>, cache: IndexCache, loads: IndexLoad[] }
function open (path: string): Opened {
  const store = new Store<GroupId>(path)
  const loads: IndexLoad[] = []
  return { store, cache: new IndexCache(store, e => loads.push(e)), loads }
}

/** A node's run: use the index, then stop (persist, close). */
function run (path: string, gid: GroupId, during?: (o: Opened) => void): IndexLoad {
  const o = open(path)
  o.cache.get(gid)
  during?.(o)
  o.cache.persistAll()
  o.store.close()
  return o.loads[0]!
}

/** The index must summarise exactly the store's hashes, at every indexed node. */
function assertAgrees (store: Store<GroupId>, gid: GroupId, ix: SyncIndex): void {
  const fresh = SyncIndex.build(store.eachHash(gid), store.countGroupRecords(gid))
  assert.equal(ix.size, store.countGroupRecords(gid))
  assert.equal(ix.depth, fresh.depth)
  assert.deepEqual([...ix.state()], [...fresh.state()])
}

/** Start again: the index comes from `from` (and was rejected for `rejected`), and agrees with the store. */
function reopen (path: string, gid: GroupId, from: IndexLoad['from'], rejected?: IndexRejection, what = ''): void {
  const o = open(path)
  const ix = o.cache.get(gid)
  assert.equal(o.loads[0]!.from, from, what)
  assert.equal(o.loads[0]!.rejected, rejected, what)
  assertAgrees(o.store, gid, ix)
  o.store.close()
}

test('an index saved at stop is loaded at the next start, and agrees with the store', () => {
  const { path, gid } = seeded()
  assert.equal(run(path, gid).from, 'store')
  reopen(path, gid, 'persisted')
})

test('records written, replaced, or deleted after the save: the saved index is gone, the next start rebuilds', () => {
  const cases: Array<[string, (s: Store<GroupId>, gid: GroupId) => void]> = [
    ['written', (s, gid) => { s.putHead(row(gid, 'new')) }],
    ['replaced (a tombstone over an item)', (s, gid) => { s.putHead(row(gid, 'r7')) }],
    ['deleted (tombstone retention purge)', (s, gid) => { s.deleteHead(gid, 'r9') }],
    ['group purged (group delete)', (s, gid) => { s.purgeGroup(gid) }]
  ]
  for (const [what, change] of cases) {
    const { path, gid } = seeded()
    run(path, gid)
    const s = new Store<GroupId>(path)
    change(s, gid)
    assert.equal(s.syncIndexes.load(gid), undefined, `${what}: the saved index must be deleted with the change`)
    s.close()
    reopen(path, gid, 'store', undefined, what)
  }
})

test('another process changing the file while the node is down (raw SQL): the saved index is not used', () => {
  const { path, gid } = seeded()
  run(path, gid)
  const db = new Database(path)
  db.prepare('UPDATE records SET hash = ? WHERE gid = ? AND rid = ?').run(randomBytes(32), gid, 'r3')
  db.close()
  reopen(path, gid, 'store')
})

test('a crash after writes (no stop, so no save): the index saved before is gone; one saved by a clean stop survives a crash without writes', () => {
  const { path, gid } = seeded()
  run(path, gid)
  // Crash with writes: the process dies without persistAll (nothing saved since).
  const crashed = open(path)
  crashed.cache.get(gid)
  crashed.store.tx(() => { for (let i = 0; i < 50; i++) crashed.store.putHead(row(gid, `late${i}`)) })
  crashed.store.db.close() // as after kill -9: no stop, no close marker
  const o = open(path)
  assertAgrees(o.store, gid, o.cache.get(gid))
  assert.equal(o.loads[0]!.from, 'store')
  o.cache.persistAll()
  o.store.db.close() // a crash with no write since the save
  reopen(path, gid, 'persisted')
})

test('a corrupted saved index is detected, dropped and rebuilt, never used', () => {
  const corruptions: Array<[string, IndexRejection, (db: Database.Database, gid: GroupId) => void]> = [
    ['a flipped byte in the cells', 'checksum', (db, gid) => {
      const r = db.prepare('SELECT cells FROM sync_index WHERE gid = ?').get(gid) as { cells: Buffer }
      r.cells[1234] = r.cells[1234]! ^ 0x40
      db.prepare('UPDATE sync_index SET cells = ? WHERE gid = ?').run(r.cells, gid)
    }],
    ['a truncated row', 'checksum', (db, gid) => { db.prepare('UPDATE sync_index SET cells = substr(cells, 1, 100) WHERE gid = ?').run(gid) }],
    ['a wrong count', 'checksum', (db, gid) => { db.prepare('UPDATE sync_index SET count = count + 1 WHERE gid = ?').run(gid) }],
    ['not a blob', 'malformed', (db, gid) => { db.prepare("UPDATE sync_index SET cells = 'cells', sum = 1 WHERE gid = ?").run(gid) }]
  ]
  for (const [what, why, corrupt] of corruptions) {
    const { path, gid } = seeded()
    run(path, gid)
    const db = new Database(path)
    corrupt(db, gid)
    db.close()
    reopen(path, gid, 'store', why, what)
    const s = new Store<GroupId>(path)
    assert.equal(s.syncIndexes.load(gid), undefined, `${what}: the bad row is dropped`)
    s.close()
  }
})

test('an index that drifted from the store, saved with a valid checksum, fails the checks on load', () => {
  const { path, gid } = seeded()
  run(path, gid)
  // Same size and depth, other hashes: what a missed event would leave behind
  // (the count still right). Saved through the real path, so its checksum is valid.
  const s = new Store<GroupId>(path)
  function * otherHashes (): Generator<Buffer> { for (let i = 0; i < N; i++) yield createHash('sha256').update(`other ${i}`).digest() }
  const drifted = { countGroupRecords: () => N, eachHash: otherHashes, syncIndexes: s.syncIndexes } as unknown as Store<GroupId>
  s.syncIndexes.drop(gid)
  const fake = new IndexCache(drifted)
  fake.get(gid)
  fake.persistAll()
  s.close()
  reopen(path, gid, 'store', 'spot-check')
})

test('without its invalidating triggers the table is never read nor written', () => {
  const { path, gid } = seeded()
  run(path, gid)
  const db = new Database(path)
  db.exec('DROP TRIGGER sync_index_stale_ins')
  db.close()
  const o = open(path)
  assert.equal(o.store.syncIndexes.present, false)
  o.cache.get(gid)
  assert.equal(o.loads[0]!.from, 'store')
  o.store.putHead(row(gid, 'unseen')) // no trigger: the old row survives this write
  o.cache.added(gid, o.store.getHead(gid, 'unseen')!.hash)
  o.cache.persistAll()
  o.store.close()
  reopen(path, gid, 'store')
})

test('migrations create the three invalidating triggers', () => {
  const s = new Store<GroupId>(join(tempDir('cairn-ixp-'), 'cairn.db'))
  assert.equal(s.syncIndexes.present, true)
  s.close()
})

test('an index that disagrees with the store in count is not saved at stop', () => {
  const { path, gid } = seeded()
  const o = open(path)
  o.cache.get(gid)
  o.cache.added(gid, randomBytes(32)) // an event for a record the store never stored
  o.cache.persistAll()
  assert.equal(o.store.syncIndexes.load(gid), undefined)
  o.store.close()
})
