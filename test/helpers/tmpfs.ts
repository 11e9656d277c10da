/**
 * A real full disk for tests: a size-limited tmpfs (needs root; callers skip
 * without it), filled by a file, unmounted in cleanup.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function mountTmpfs (sizeMiB: number): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'cairn-full-'))
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir])
  if (r.status !== 0) { rmSync(dir, { recursive: true, force: true }); return undefined }
  return dir
}

export function unmount (dir: string): void {
  spawnSync('umount', ['-l', dir])
  rmSync(dir, { recursive: true, force: true })
}

/** Fill the filesystem holding `dir` until ENOSPC; returns the filler's path. */
export function fillDisk (dir: string): string {
  const path = join(dir, 'filler')
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(256 * 1024, 7)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
    // the last few KiB too, so even a small write finds no room
    const small = Buffer.alloc(4096, 7)
    try { for (;;) writeSync(fd, small) } catch { /* full */ }
  } finally { closeSync(fd) }
  return path
}

