/**
 * CPU profiles of bench node processes, for finding where a figure's time goes.
 *
 *   CAIRN_BENCH_PROFILE=<dir> npm run bench -- replication
 *
 * makes the suites that support it (replication, sync, catchup, circles) take a
 * V8 CPU profile of their node processes during the measured phase and write
 * <dir>/<suite>-<role>-<phase>.cpuprofile (open in Chrome DevTools, or summarise
 * with `node --import tsx bench/lib/profile.ts <file>`: self time by function
 * and by file; `--inclusive`: total time by function, callees included).
 * Profiling slows the processes: figures from such a run are for diagnosis,
 * not for the table.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { NodeProcessHandle } from './node.js'

export const PROFILE_DIR = process.env.CAIRN_BENCH_PROFILE !== undefined && process.env.CAIRN_BENCH_PROFILE !== '' ? resolve(process.env.CAIRN_BENCH_PROFILE) : undefined

/** Run `fn` with CPU profiles of `nodes` (name → handle) when CAIRN_BENCH_PROFILE is set. */
export async function profiled<T> (tag: string, nodes: Record<string, NodeProcessHandle>, fn: () => Promise<T>): Promise<T> {
  if (PROFILE_DIR === undefined) return await fn()
  mkdirSync(PROFILE_DIR, { recursive: true })
  await Promise.all(Object.values(nodes).map(async n => await n.ctl.call('profile-start')))
  try {
    return await fn()
  } finally {
    await Promise.all(Object.entries(nodes).map(async ([name, n]) => await n.ctl.call('profile-stop', { path: join(PROFILE_DIR, `${tag}-${name}.cpuprofile`) }).catch(() => {})))
  }
}

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }

interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }
const readProfile = (path: string): Profile => JSON.parse(readFileSync(path, 'utf8')) as Profile
/** A frame's script, shortened: `nm:` for node_modules, relative to the checkout. */
const shortUrl = (n: ProfileNode): string => n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/work\/[^/]+\//, '')
const frameName = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'}  ${shortUrl(n)}:${n.callFrame.lineNumber + 1}`

/** Self time by function and by file, in % of samples. */
export function summariseProfile (path: string, top = 30): string {
  const p = readProfile(path)
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const self = new Map<number, number>()
  p.samples.forEach((id, k) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[k] ?? 0)))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const fn = new Map<string, number>()
  const file = new Map<string, number>()
  for (const [id, t] of self) {
    const n = byId.get(id)!
    const url = shortUrl(n)
    const f = frameName(n)
    fn.set(f, (fn.get(f) ?? 0) + t)
    const u = url === '' ? `(${n.callFrame.functionName})` : url.startsWith('nm:') ? url.split('/').slice(0, url.startsWith('nm:@') ? 2 : 1).join('/') : url
    file.set(u, (file.get(u) ?? 0) + t)
  }
  const fmt = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join('\n')
  return `${path}: ${(total / 1e6).toFixed(2)} s sampled\n-- self time by function --\n${fmt(fn)}\n-- self time by file/package --\n${fmt(file)}`
}

/**
 * Inclusive (total) time by function, in % of samples: each sample counts once
 * for every distinct function on its stack, so a caller's figure holds its callees'.
 */
export function inclusiveProfile (path: string, top = 40): string {
  const p = readProfile(path)
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const incl = new Map<string, number>()
  let total = 0
  p.samples.forEach((leaf, k) => {
    const dt = p.timeDeltas[k] ?? 0
    total += dt
    const seen = new Set<string>()
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) seen.add(frameName(byId.get(id)!))
    for (const f of seen) incl.set(f, (incl.get(f) ?? 0) + dt)
  })
  return `${path}: inclusive time by function\n${[...incl].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join('\n')}`
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = process.argv.slice(2)
  const inclusive = args.includes('--inclusive')
  for (const f of args.filter(a => a !== '--inclusive')) process.stdout.write((inclusive ? inclusiveProfile(f, 80) : summariseProfile(f)) + '\n\n')
}
