/**
 * The storage baseline: raw better-sqlite3 inserts of item envelopes, with the
 * pragmas of src/store/store.ts (WAL, synchronous=FULL, secure_delete), into a
 * minimal table (rid TEXT PRIMARY KEY, bytes BLOB). Nothing of cairn runs: no
 * crypto, no signature, no acceptance gates, no second table.
 *
 *  perRow   one autocommit INSERT per row = one durable transaction per row,
 *           which is what an acknowledged write costs at minimum (fair against
 *           the store path, which also commits each write on its own)
 *  oneTx    all rows in one transaction (the ceiling when fsync is amortised)
 *
 * Measured once per harness process and shared by the suites that use it
 * (store, http), so they compare against the same figure.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { SuiteContext } from './types.js'
import { medianOf, measureRate } from './timing.js'
import { sampleEnvelopes } from './items.js'

export const SQLITE_PRAGMAS = ['journal_mode = WAL', 'synchronous = FULL', 'foreign_keys = ON', 'secure_delete = ON'] as const

export interface SqliteBaseline {
  /** Rows/s, one transaction per row (median of runs). */
  perRow: number
  /** Rows/s, all rows in one transaction (median of runs). */
  oneTx: number
  /** Envelope bytes per row. */
  rowBytes: number
  runs: number
}

let cached: Promise<SqliteBaseline> | undefined

export async function sqliteBaseline (ctx: SuiteContext): Promise<SqliteBaseline> {
  cached ??= measure(ctx)
  return cached
}

/**
 * Open a fresh SQLite file in `dir` with the store's pragmas; returns it with
 * a prepared insert. Exposed for suites that need the raw cost of other shapes.
 */
export function openRawDb (dir: string): { db: Database.Database, insert: Database.Statement } {
  const db = new Database(join(dir, 'raw.db'))
  for (const p of SQLITE_PRAGMAS) db.pragma(p)
  db.exec('CREATE TABLE IF NOT EXISTS items (rid TEXT PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID')
  return { db, insert: db.prepare('INSERT INTO items (rid, bytes) VALUES (?, ?)') }
}

async function measure (ctx: SuiteContext): Promise<SqliteBaseline> {
  const envs = sampleEnvelopes(256).map(b => Buffer.from(b))
  const runs = ctx.quick ? 1 : 3
  const windowMs = ctx.quick ? 200 : 2000
  const { db, insert } = openRawDb(ctx.tempDir('cairn-bench-sqlite-'))
  try {
    let n = 0
    const row = (): void => { insert.run(`r${n}`, envs[n % envs.length]!); n++ }
    measureRate(row, { ms: ctx.quick ? 20 : 200 }) // warm-up: page cache, WAL file, statement
    const perRow = await medianOf(runs, () => measureRate(row, { ms: windowMs }).perSec)
    const batch = ctx.quick ? 2_000 : 50_000
    const many = db.transaction((count: number) => { for (let i = 0; i < count; i++) row() })
    const oneTx = await medianOf(runs, () => {
      const r = measureRate(() => many(batch), { ms: 0, minOps: 1 })
      return batch / (r.ms / 1000)
    })
    ctx.log(`sqlite baseline: ${Math.round(perRow.median)} rows/s per-row tx, ${Math.round(oneTx.median)} rows/s one tx`)
    return { perRow: perRow.median, oneTx: oneTx.median, rowBytes: envs[0]!.length, runs }
  } finally {
    db.close()
  }
}
