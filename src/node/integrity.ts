/**
 * SQLite integrity checks off the event loop: a worker thread opens the store
 * read-only (WAL readers do not block the daemon's writer) and runs
 * `PRAGMA quick_check` (structure; what a torn write or bad disk breaks) or,
 * for `cairn doctor`, the full `PRAGMA integrity_check` (also every index
 * against its table). Returns "ok" or SQLite's description of the damage.
 */
import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'

const SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
try {
  const db = new Database(workerData.path, { readonly: true, fileMustExist: true })
  const rows = db.pragma(workerData.full ? 'integrity_check(20)' : 'quick_check(20)')
  db.close()
  parentPort.postMessage({ ok: true, result: rows.map(r => Object.values(r)[0]).join('; ') })
} catch (e) { parentPort.postMessage({ ok: false, error: String(e && e.message || e) }) }
`

export async function backgroundIntegrityCheck (path: string, full = false): Promise<string> {
  const module = createRequire(import.meta.url).resolve('better-sqlite3')
  return await new Promise<string>((resolve, reject) => {
    const w = new Worker(SCRIPT, { eval: true, workerData: { path, full, module } })
    w.once('message', (m: { ok: boolean, result?: string, error?: string }) => {
      void w.terminate()
      if (m.ok) resolve(m.result ?? 'ok')
      else reject(new Error(m.error ?? 'integrity check failed to run'))
    })
    w.once('error', reject)
    w.once('exit', code => { if (code !== 0) reject(new Error(`integrity check worker exited with ${code}`)) })
  })
}
