/**
 * The SQL statements of store.ts's own tables (records, history, groups, audit,
 * outbox, jobs, meta), prepared once per connection and typed by name. The
 * tables added later keep theirs beside them: membership-store.ts,
 * peer-tables.ts, ao-index.ts; open-check.ts runs its two before any is prepared.
 */
import type BetterSqlite3 from 'better-sqlite3'
import type { StoreRole } from './migrations.js'

type Db = BetterSqlite3.Database
type Statement = BetterSqlite3.Statement

const META_COLS = 'gid, rid, kind, clock, kv, signer, author, tomb, hash, size, received'
const ROW_COLS = `${META_COLS}, bytes`

/** Every statement the store runs, by name. */
const SQL = {
  getHead: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND rid = ?`,
  getHeadMeta: `SELECT ${META_COLS} FROM records WHERE gid = ? AND rid = ?`,
  // A batch's heads in one statement (the rids as a JSON array): one probe of (gid, rid) each, no call per record;
  // without their bytes (1.3 KB each, read back and dropped for every record a second session repeats).
  getHeadsMeta: `SELECT ${META_COLS} FROM records WHERE gid = ? AND rid IN (SELECT value FROM json_each(?))`,
  getByHash: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND hash = ?`,
  // Which of a batch's hashes (a JSON array of hex) the group holds: one (gid, hash) probe each.
  heldHashes: 'SELECT lower(hex(hash)) FROM records WHERE gid = ? AND hash IN (SELECT unhex(value) FROM json_each(?))',
  allGroupIds: 'SELECT gid FROM groups',
  putHead: `INSERT INTO records (gid, rid, kind, clock, kv, signer, author, tomb, hash, bytes, size, received)
              VALUES (@gid, @rid, @kind, @clock, @kv, @signer, @author, @tomb, @hash, @bytes, @size, @received)
              ON CONFLICT (gid, rid) DO UPDATE SET kind = excluded.kind, clock = excluded.clock, kv = excluded.kv, signer = excluded.signer,
                author = excluded.author, tomb = excluded.tomb, hash = excluded.hash, bytes = excluded.bytes, size = excluded.size, received = excluded.received`,
  delHead: 'DELETE FROM records WHERE gid = ? AND rid = ?',
  listKind: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND kind = ? AND (clock > ? OR (clock = ? AND rid > ?)) ORDER BY clock, rid LIMIT ?`,
  listKindDesc: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND kind = ? AND (clock < ? OR (clock = ? AND rid < ?)) ORDER BY clock DESC, rid DESC LIMIT ?`,
  allItems: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND kind = 'item' ORDER BY clock, rid`,
  // Every kind but items: `kind <> 'item'` lets a keeper's partial records_by_kind_meta answer (migrations.ts ROLE_INDEXES).
  allMetaKind: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND kind = ? AND kind <> 'item' ORDER BY clock, rid`,
  // Live = all minus tombstones, each count from an index alone (records_by_kind or _meta, records_tombs):
  // with tomb = 0 in the query, a store without records_stale (a keeper's) read every row's table page.
  countMetaKind: "SELECT (SELECT count(*) FROM records WHERE gid = @gid AND kind = @kind AND kind <> 'item') - (SELECT count(*) FROM records INDEXED BY records_tombs WHERE tomb = 1 AND gid = @gid AND kind = @kind) AS n",
  countItems: "SELECT (SELECT count(*) FROM records WHERE gid = @gid AND kind = 'item') - (SELECT count(*) FROM records INDEXED BY records_tombs WHERE tomb = 1 AND gid = @gid AND kind = 'item') AS n",
  countAllItems: "SELECT (SELECT count(*) FROM records WHERE kind = 'item') - (SELECT count(*) FROM records INDEXED BY records_tombs WHERE tomb = 1 AND kind = 'item') AS n",
  totalBytes: 'SELECT total(size) AS n FROM records',
  countGroup: 'SELECT count(*) AS n FROM records WHERE gid = ?',
  staleKv: `SELECT ${ROW_COLS} FROM records WHERE gid = ? AND kind = 'item' AND tomb = 0 AND kv < ? AND rid > ? ORDER BY rid LIMIT ?`,
  countStaleKv: "SELECT count(*) AS n FROM records WHERE gid = ? AND kind = 'item' AND tomb = 0 AND kv < ?",
  hashes: 'SELECT hash FROM records WHERE gid = ?',
  hashRange: 'SELECT hash FROM records WHERE gid = ? AND hash >= ? AND hash < ? ORDER BY hash',
  hashRangeOpen: 'SELECT hash FROM records WHERE gid = ? AND hash >= ? ORDER BY hash',
  bytesRange: 'SELECT bytes, hash FROM records WHERE gid = ? AND hash >= ? AND hash < ? ORDER BY hash LIMIT ?',
  bytesRangeOpen: 'SELECT bytes, hash FROM records WHERE gid = ? AND hash >= ? ORDER BY hash LIMIT ?',
  groupPage: 'SELECT rid, kind, hash, bytes FROM records WHERE gid = ? AND rid > ? ORDER BY rid LIMIT ?',
  expiredTombs: 'SELECT gid, rid FROM records WHERE tomb = 1 AND received < ? LIMIT ?',
  pushHistory: 'INSERT OR IGNORE INTO history (gid, rid, clock, hash, bytes) VALUES (?, ?, ?, ?, ?)',
  headToHistory: 'INSERT OR IGNORE INTO history (gid, rid, clock, hash, bytes) SELECT gid, rid, clock, hash, bytes FROM records WHERE gid = ? AND rid = ?',
  history: 'SELECT clock, hash, bytes FROM history WHERE gid = ? AND rid = ? ORDER BY clock',
  purgeHistory: 'DELETE FROM history WHERE gid = ? AND rid = ?',
  upsertGroup: `INSERT INTO groups (gid, desc_ver, joined, state) VALUES (@gid, @desc_ver, @joined, @state)
                  ON CONFLICT (gid) DO UPDATE SET desc_ver = excluded.desc_ver, state = excluded.state`,
  getGroup: 'SELECT * FROM groups WHERE gid = ?',
  listGroups: "SELECT * FROM groups WHERE state = 'active' ORDER BY joined, gid",
  // purgeGroup: every row of a group but its own (the caller marks it deleted or left)
  groupBytes: 'SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM records WHERE gid = ?',
  historyBytes: 'SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS bytes FROM history WHERE gid = ?',
  delGroupRecords: 'DELETE FROM records WHERE gid = ?',
  delGroupHistory: 'DELETE FROM history WHERE gid = ?',
  delGroupOutbox: 'DELETE FROM outbox WHERE gid = ?',
  delGroupUsage: 'DELETE FROM key_usage WHERE gid = ?',
  delGroupJobs: 'DELETE FROM jobs WHERE gid = ?',
  putJob: `INSERT OR REPLACE INTO jobs (id, kind, gid, state, done, total, params, error, created, updated)
             VALUES (@id, @kind, @gid, @state, @done, @total, @params, @error, @created, @updated)`,
  getJob: 'SELECT * FROM jobs WHERE id = ?',
  unfinishedJobs: "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created",
  recentJobs: 'SELECT * FROM jobs ORDER BY created DESC, id LIMIT ?',
  getMeta: 'SELECT value FROM meta WHERE key = ?',
  putMeta: 'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
  bumpUsage: 'INSERT INTO key_usage (gid, kv, count) VALUES (?, ?, ?) ON CONFLICT (gid, kv) DO UPDATE SET count = count + excluded.count',
  getUsage: 'SELECT count FROM key_usage WHERE gid = ? AND kv = ?',
  auditTail: 'SELECT * FROM audit ORDER BY seq DESC LIMIT 1',
  auditPut: 'INSERT INTO audit (seq, at, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)',
  auditList: 'SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
  auditCount: 'SELECT count(*) AS n FROM audit',
  auditPage: 'SELECT seq, at, kind, data, lower(hex(prev)), lower(hex(hash)) FROM audit WHERE seq > ? ORDER BY seq LIMIT ?', // rows as arrays (prepare)
  outboxPut: `INSERT INTO outbox (target, gid, created, attempts, next_at, last_error, hint) VALUES (@target, @gid, @created, 0, @next_at, NULL, @hint)
                ON CONFLICT (target, gid) DO UPDATE SET next_at = excluded.next_at, attempts = 0, hint = coalesce(excluded.hint, hint)`,
  outboxDue: 'SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?',
  outboxFail: 'UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE target = ? AND gid = ?',
  outboxDone: 'DELETE FROM outbox WHERE target = ? AND gid = ?',
  outboxWake: 'UPDATE outbox SET next_at = 0 WHERE target = ?',
  outboxOfGroup: 'SELECT * FROM outbox WHERE gid = ?',
  vaultBySigner: `SELECT ${ROW_COLS} FROM records WHERE kind = 'vault' AND signer = ? ORDER BY clock DESC LIMIT 1`,
  countKv: "SELECT count(*) AS n FROM records WHERE gid = ? AND kind = 'item' AND tomb = 0 AND kv = ?",
  ridPrefix: "SELECT gid, rid FROM records WHERE gid = ? AND rid >= ? AND rid < ? AND kind = 'item' AND tomb = 0 ORDER BY rid LIMIT ?"
}

/**
 * A keeper's store has no index of items by kind (migrations.ts ROLE_INDEXES):
 * its item counts are every record of the group (any index of (gid, …))
 * minus the other kinds (records_by_kind_meta), each from an index alone.
 */
const KEEPER_SQL: Partial<typeof SQL> = {
  countItems: "SELECT (SELECT count(*) FROM records WHERE gid = @gid) - (SELECT count(*) FROM records WHERE gid = @gid AND kind <> 'item') - (SELECT count(*) FROM records INDEXED BY records_tombs WHERE tomb = 1 AND gid = @gid AND kind = 'item') AS n",
  countAllItems: "SELECT (SELECT count(*) FROM records) - (SELECT count(*) FROM records WHERE kind <> 'item') - (SELECT count(*) FROM records INDEXED BY records_tombs WHERE tomb = 1 AND kind = 'item') AS n"
}

export type Statements = Record<keyof typeof SQL, Statement>

/** Every statement prepared once for this connection, as the store's role (its indexes) asks. */
export function prepare (db: Db, role: StoreRole): Statements {
  const sql = role === 'keeper' ? { ...SQL, ...KEEPER_SQL } : SQL
  const s = Object.fromEntries(Object.entries(sql).map(([name, text]) => [name, db.prepare(text)])) as Statements
  // The audit verifier pages a million entries: arrays, not an object per row.
  s.auditPage.raw(true)
  return s
}
