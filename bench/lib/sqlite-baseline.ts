/**
 * The storage baseline: raw better-sqlite3 inserts of item envelopes, with the
 * pragmas of src/store/store.ts (WAL, synchronous=FULL, secure_delete), into a
 * minimal table (rid TEXT PRIMARY KEY, bytes BLOB). Nothing of cairn runs: no
 * crypto, no signature, no acceptance gates, no second statement.
 *
 *  perRow(ms)    rows/s with one autocommit INSERT per row = one durable
 *                transaction per row: what an acknowledged write costs at
 *                minimum (fair against the store path, which also commits each
 *                write on its own)
 *  oneTx(rows)   rows/s with all rows in one transaction (fsync amortised)
 *
 * Suites measure it in windows interleaved with their own (timing.ts
 * interleaved), because on a shared machine fsync latency drifts by 10× within
 * minutes: a baseline taken at another moment would make the ratio noise.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { SuiteContext } from './types.js'
import { measureRate } from './timing.js'
import { sampleEnvelopes } from './items.js'

export const SQLITE_PRAGMAS = ['journal_mode = WAL', 'synchronous = FULL', 'foreign_keys = ON', 'secure_delete = ON'] as const

export const PER_ROW_NAME = 'raw better-sqlite3 INSERT, 1 tx per row'
export const ONE_TX_NAME = 'raw better-sqlite3 INSERT, all rows in 1 tx'

export interface RawInserts {
  /** Envelope bytes per row. */
  rowBytes: number
  /** Rows/s over a window of `ms`, one transaction per row. */
  perRow: (ms: number) => number
  /** Rows/s for `rows` rows in one transaction. */
  oneTx: (rows: number) => number
  /** Rows/s for `rows` rows in transactions of `perTx` rows each (a sync applies one per ~1 MiB batch). */
  batched: (rows: number, perTx: number) => number
}

/**
 * A fresh SQLite file in a temp dir with the store's pragmas, warmed up; closed after the suite.
 * `synchronous`: NORMAL for a floor of what the store commits that way (records received by push and sync).
 */
export function rawInserts (ctx: SuiteContext, synchronous: 'FULL' | 'NORMAL' = 'FULL'): RawInserts {
  const envs = sampleEnvelopes(256).map(b => Buffer.from(b))
  const db = new Database(join(ctx.tempDir('cairn-bench-sqlite-'), 'raw.db'))
  ctx.defer(() => db.close())
  for (const p of SQLITE_PRAGMAS) db.pragma(p)
  db.pragma(`synchronous = ${synchronous}`)
  db.exec('CREATE TABLE items (rid TEXT PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID')
  const insert = db.prepare('INSERT INTO items (rid, bytes) VALUES (?, ?)')
  let n = 0
  const row = (): void => { insert.run(`r${n}`, envs[n % envs.length]!); n++ }
  const many = db.transaction((count: number) => { for (let i = 0; i < count; i++) row() })
  measureRate(row, { ms: ctx.quick ? 20 : 200 }) // page cache, WAL file, statement
  return {
    rowBytes: envs[0]!.length,
    perRow: (ms) => measureRate(row, { ms }).perSec,
    oneTx: (rows) => {
      const r = measureRate(() => many(rows), { ms: 0, minOps: 1 })
      return rows / (r.ms / 1000)
    },
    batched: (rows, perTx) => {
      const r = measureRate(() => { for (let done = 0; done < rows; done += perTx) many(Math.min(perTx, rows - done)) }, { ms: 0, minOps: 1 })
      return rows / (r.ms / 1000)
    }
  }
}
