/**
 * The files a running daemon keeps in its data dir besides the store: the pid
 * file (one daemon per data dir) and the API token (mode 0600).
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs'
import { CairnError } from '../util/errors.js'
import { writeFileAtomic } from '../util/fs.js'

/** Refuse to run two daemons on one data dir; a stale file from a killed daemon is replaced. */
export function claimPidFile (path: string): void {
  if (!existsSync(path)) return
  try {
    const { pid } = JSON.parse(readFileSync(path, 'utf8')) as { pid: number }
    if (pid !== process.pid && isAlive(pid)) throw new CairnError('CONFLICT', `a cairn daemon (pid ${pid}) is already running on this data dir`)
  } catch (e) {
    if (e instanceof CairnError) throw e
  }
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' }
}

export function ensureApiToken (path: string): string {
  if (existsSync(path)) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
    const t = readFileSync(path, 'utf8').trim()
    if (t.length >= 32) return t
  }
  const token = randomBytes(32).toString('hex')
  writeFileAtomic(path, token + '\n', 0o600)
  return token
}
