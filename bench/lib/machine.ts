/** Where the figures were measured: CPU, cores, Node, and the commit under test. */
import { spawnSync } from 'node:child_process'
import { arch, cpus, loadavg, platform, totalmem } from 'node:os'
import type { MachineInfo } from './types.js'

export function machineInfo (): MachineInfo {
  const c = cpus()
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    node: process.version,
    platform: platform(),
    arch: arch(),
    totalMemoryMiB: Math.round(totalmem() / 1024 / 1024),
    loadAverage: loadavg().map(x => Math.round(x * 100) / 100)
  }
}

export function gitInfo (cwd: string): { commit: string | null, dirty: boolean | null } {
  const rev = spawnSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' })
  if (rev.status !== 0) return { commit: null, dirty: null }
  const st = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' })
  return { commit: rev.stdout.trim(), dirty: st.status === 0 ? st.stdout.trim().length > 0 : null }
}
