/**
 * Named statements for the persisted anti-entropy indexes (migration 7): one
 * row per group, written when the node stops (or drops an idle index), read
 * at the group's first sync after a restart.
 *
 * Invariant: a row exists only while none of the group's records changed
 * since it was written. The `sync_index_stale_*` triggers delete it inside
 * the transaction that inserts, replaces or deletes a record, whoever runs
 * it; `present` is false when a trigger is missing (a schema edited by hand,
 * a later migration that rebuilt `records` without them), and then no row is
 * read or written at all. Rows hold counts and sums of record hashes: routing
 * metadata, never content.
 */
import type { Database as Db, Statement } from 'better-sqlite3'

export interface SyncIndexRow { gid: string, depth: number, count: number, sum: Buffer, cells: Buffer, saved: number }

const TRIGGERS = ['sync_index_stale_ins', 'sync_index_stale_upd', 'sync_index_stale_del']

export class SyncIndexTable {
  private readonly s: Record<'get' | 'put' | 'drop' | 'triggers', Statement>

  constructor (db: Db) {
    const p = (sql: string): Statement => db.prepare(sql)
    this.s = {
      get: p('SELECT * FROM sync_index WHERE gid = ?'),
      put: p(`INSERT INTO sync_index (gid, depth, count, sum, cells, saved) VALUES (@gid, @depth, @count, @sum, @cells, @saved)
              ON CONFLICT (gid) DO UPDATE SET depth = excluded.depth, count = excluded.count, sum = excluded.sum, cells = excluded.cells, saved = excluded.saved`),
      drop: p('DELETE FROM sync_index WHERE gid = ?'),
      triggers: p(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'records' AND name IN (${TRIGGERS.map(() => '?').join(', ')})`)
    }
  }

  /** Whether every invalidating trigger is in place (checked per call: cheap, and a schema can change under us). */
  get present (): boolean { return (this.s.triggers.get(...TRIGGERS) as { n: number }).n === TRIGGERS.length }

  load (gid: string): SyncIndexRow | undefined { return this.s.get.get(gid) as SyncIndexRow | undefined }
  save (row: SyncIndexRow): void { this.s.put.run(row) }
  drop (gid: string): void { this.s.drop.run(gid) }
}
