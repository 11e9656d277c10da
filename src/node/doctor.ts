/**
 * `cairn doctor`: check a data directory without changing it — identity, node
 * key and its permissions, configuration, which Ed25519 signs, the vault file, the daemon record,
 * and the whole store with `PRAGMA integrity_check` (on a worker thread, read
 * only: it works beside a running daemon, which keeps writing meanwhile).
 * Start-up no longer scans the store (store.ts StoreOpenState); this is where
 * a full scan runs on demand.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { ed25519Impl, useEd25519 } from '../crypto/sign.js'
import { SCHEMA_VERSION } from '../store/migrations.js'
import { errorMessage } from '../util/errors.js'
import { readIdentity } from './identity.js'
import { backgroundIntegrityCheck } from './integrity.js'
import { ed25519Words } from './activity.js'
import { loadNodeKey } from './node-key.js'
import { dataPaths } from './paths.js'

export interface DoctorCheck { name: string, ok: boolean, detail: string }
export interface DoctorReport { dataDir: string, ok: boolean, checks: DoctorCheck[] }

export async function doctor (dataDir: string): Promise<DoctorReport> {
  const p = dataPaths(dataDir)
  const checks: DoctorCheck[] = []
  const add = (name: string, ok: boolean, detail: string): void => { checks.push({ name, ok, detail }) }
  const attempt = (name: string, fn: () => string): void => {
    try { add(name, true, fn()) } catch (e) { add(name, false, errorMessage(e)) }
  }
  if (!existsSync(dataDir)) return { dataDir, ok: false, checks: [{ name: 'data dir', ok: false, detail: `${dataDir} does not exist; \`cairn init\` creates a node` }] }
  let keeper = false
  attempt('identity', () => {
    const id = readIdentity(p.identity)
    if (id === undefined) throw new Error(`${p.identity} is missing: this directory holds no cairn node (\`cairn init\`, or \`cairn recover\` to rebuild one)`)
    keeper = id.keeper
    return id.keeper ? `keeper ${id.peerId}` : `entity ${id.entityId ?? '?'} on ${id.peerId}`
  })
  attempt('node key', () => `${loadNodeKey(p.nodeKey).peerId} (mode 600)`)
  let config: Config | undefined
  attempt('configuration', () => { const c = (config = loadConfig(dataDir)); return `API ${c.api.host}:${c.api.port}, listen ${c.network.listen.join(' ')}` })
  // What the daemon would use: its setting applied as at start (daemon.ts).
  attempt('signatures', () => { useEd25519(config?.crypto.ed25519 === 'openssl' ? 'openssl' : 'libsodium'); return ed25519Words(ed25519Impl()) })
  if (!keeper) attempt('vault', () => { if (!existsSync(p.vault)) throw new Error(`${p.vault} is missing: restore it with \`cairn recover\``); return `${statSync(p.vault).size} bytes, encrypted` })
  attempt('API token', () => {
    if (!existsSync(p.apiToken)) return 'not created yet (the first `cairn start` makes it)'
    const mode = statSync(p.apiToken).mode & 0o777
    if ((mode & 0o077) !== 0) throw new Error(`${p.apiToken} is readable by others (mode ${mode.toString(8)}); run \`chmod 600 ${p.apiToken}\``)
    return 'mode 600'
  })
  if (!existsSync(p.db)) add('store', false, `${p.db} is missing`)
  else {
    let schemaOk = false
    attempt('store schema', () => {
      const db = new Database(p.db, { readonly: true, fileMustExist: true })
      try {
        const v = db.pragma('user_version', { simple: true }) as number
        const clean = v >= 1 ? (db.prepare("SELECT value FROM meta WHERE key = 'clean_close'").pluck().get() as string | undefined) : undefined
        if (v > SCHEMA_VERSION) throw new Error(`schema version ${v} is newer than this cairn (${SCHEMA_VERSION}); upgrade cairn`)
        schemaOk = true
        return `version ${v}${v < SCHEMA_VERSION ? ` (migrated to ${SCHEMA_VERSION} at the next start)` : ''}; last close ${clean === '1' ? 'clean' : 'not clean (or still running)'}`
      } finally { db.close() }
    })
    if (schemaOk) {
      const t0 = Date.now()
      try {
        const r = await backgroundIntegrityCheck(p.db, true)
        const mib = (statSync(p.db).size / 2 ** 20).toFixed(1)
        if (r === 'ok') add('store integrity', true, `${mib} MiB checked in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
        else add('store integrity', false, `${r.slice(0, 300)}: restore this node from its keepers with \`cairn recover\` into a new directory`)
      } catch (e) { add('store integrity', false, `the check could not run: ${errorMessage(e)}`) }
    }
  }
  attempt('daemon', () => {
    if (!existsSync(p.pid)) return 'not running'
    const { pid, apiPort } = JSON.parse(readFileSync(p.pid, 'utf8')) as { pid: number, apiPort: number }
    try { process.kill(pid, 0) } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw new Error(`daemon.json names pid ${pid}, which is not running (it was killed); the next \`cairn start\` replaces it`)
    }
    return `running (pid ${pid}, API port ${apiPort})`
  })
  return { dataDir, ok: checks.every(c => c.ok), checks }
}
