/** <dataDir>/daemon.json, written by a running daemon and removed when it stops. */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CairnError, isCairnError } from '../util/errors.js'

export interface DaemonRecord { pid: number, apiPort: number, apiHost: string, peerId?: string, startedAt?: string, alive: boolean }

export function daemonRecord (dataDir: string): DaemonRecord | undefined {
  const p = join(dataDir, 'daemon.json')
  if (!existsSync(p)) return undefined
  try {
    const d = JSON.parse(readFileSync(p, 'utf8')) as Omit<DaemonRecord, 'alive'>
    return { ...d, alive: isAlive(d.pid) }
  } catch { return undefined }
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * The client refuses to guess a port when no daemon.json says where the node
 * is (another node's daemon may listen on the default one, and must not get
 * this node's token). The CLI knows the node's configuration, so it names
 * the address the node would listen on, and nothing contradicts it.
 */
export async function explainNotRunning (dataDir: string, e: unknown): Promise<unknown> {
  if (!isCairnError(e) || e.code !== 'UNAVAILABLE' || existsSync(join(dataDir, 'daemon.json')) || !existsSync(join(dataDir, 'api-token'))) return e
  if (process.env.CAIRN_API_PORT !== undefined && process.env.CAIRN_API_PORT !== '') return e // the client tried that port, and said so
  let where = ''
  try {
    const { loadConfig } = await import('../config/load.js') // smol-toml and the schema: only on this error path
    const c = loadConfig(dataDir)
    where = `; when it runs, its API is on ${c.api.host.includes(':') ? `[${c.api.host}]` : c.api.host}:${c.api.port === 0 ? '(a free port)' : c.api.port}`
  } catch { /* a bad config.toml: `cairn start` names the problem */ }
  return new CairnError('UNAVAILABLE', `no cairn node is running on ${dataDir} (no daemon.json${where}); start it with \`cairn start --data-dir ${dataDir}\``)
}
