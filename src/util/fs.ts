import { closeSync, fsyncSync, openSync, renameSync, writeSync, chmodSync, mkdirSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'

/** Write a file so a crash leaves either the old or the new content, never a mix. */
export function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', mode)
  try {
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    chmodSync(tmp, mode)
    renameSync(tmp, path)
  } catch (e) {
    // A full disk (ENOSPC) leaves the old file whole; the partial copy must not take more space.
    try { unlinkSync(tmp) } catch { /* never created or already renamed */ }
    throw e
  }
  try {
    const dfd = openSync(dirname(path), 'r')
    try { fsyncSync(dfd) } finally { closeSync(dfd) }
  } catch { /* directory fsync is best-effort on some filesystems */ }
}

export function ensureDir (path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 })
}
