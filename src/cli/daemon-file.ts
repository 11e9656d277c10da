/** <dataDir>/daemon.json, written by a running daemon and removed when it stops. */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

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
