/**
 * How the store was found at open. A full scan at every start made start-up
 * grow with the store (1M items, 1.3 GB: not up within 60 s), and a crash does
 * not corrupt a WAL database: SQLite's recovery rolls back what was not
 * committed. So the check runs only after an unclean shutdown, at once when the
 * file is small (≤ SYNC_CHECK_MAX_BYTES: well under a second), otherwise
 * `deferred` to the daemon's background check (node/integrity.ts); and in full
 * on demand with `cairn doctor`. A clean close sets meta `clean_close` to 1;
 * an open sets it to 0 until then.
 */
import type { Database as Db } from 'better-sqlite3'
import { statSync } from 'node:fs'
import { CairnError, isDiskFull } from '../util/errors.js'

export interface StoreOpenState { uncleanShutdown: boolean, check: 'ok' | 'deferred' | 'none' }

const SYNC_CHECK_MAX_BYTES = 64 * 2 ** 20
const CLEAN_KEY = 'clean_close'

function fileBytes (path: string): number {
  let n = 0
  for (const f of [path, `${path}-wal`]) { try { n += statSync(f).size } catch { /* absent */ } }
  return n
}

/** Before migrations, on an existing file: check it when the last run did not close it. */
export function checkAtOpen (db: Db, path: string, opened: StoreOpenState): void {
  const version = db.pragma('user_version', { simple: true }) as number
  let clean = false
  if (version > 0) {
    try { clean = (db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(CLEAN_KEY) as string | undefined) === '1' } catch { clean = false }
  }
  if (clean) return
  opened.uncleanShutdown = version > 0
  if (fileBytes(path) > SYNC_CHECK_MAX_BYTES) { opened.check = 'deferred'; return }
  const ok = db.pragma('quick_check', { simple: true })
  if (ok !== 'ok') throw new CairnError('INTEGRITY', `database ${path} failed its integrity check (${String(ok)}); restore from keepers with \`cairn recover\``)
  opened.check = 'ok'
}

/**
 * Open = not closed cleanly until close() says so. On a full disk the mark
 * cannot be written; nothing else can be either, so the node still starts.
 */
export function markOpen (db: Db): void {
  try { db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(CLEAN_KEY, '0') } catch (e) { if (!isDiskFull(e)) throw e }
}

export function markClosed (db: Db): void {
  try { db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(CLEAN_KEY, '1') } catch { /* read-only or failing disk: the next open checks */ }
}
