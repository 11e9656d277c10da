/**
 * What the fuzz suites share: the seed and the run length (short in
 * `npm test`, long with `npm run fuzz`), a health probe that runs beside
 * the fuzz and records its slowest answer, and a process's RSS.
 *
 *   CAIRN_FUZZ_SEED=<n>    replay a run (every failure message prints it)
 *   CAIRN_FUZZ_SCALE=<k>   k times the default number of runs (npm run fuzz: 25)
 */
import { readFileSync } from 'node:fs'
import { rawRequest } from './http.js'

export const FUZZ_SEED = process.env.CAIRN_FUZZ_SEED !== undefined ? Number(process.env.CAIRN_FUZZ_SEED) : (Math.random() * 2 ** 31) >>> 0
export const FUZZ_SCALE = Math.max(1, Number(process.env.CAIRN_FUZZ_SCALE ?? 1))
export const replay = `seed ${FUZZ_SEED}; replay with CAIRN_FUZZ_SEED=${FUZZ_SEED}`
// Read, then kept from the node processes a test starts: cairn refuses unknown CAIRN_* settings.
delete process.env.CAIRN_FUZZ_SEED
delete process.env.CAIRN_FUZZ_SCALE

export interface Probe { stop: () => Promise<{ probes: number, worstMs: number, failures: string[] }> }

/** GET /api/v1/health every `everyMs` until stopped; any non-200 or no answer is a failure. */
export function healthProbe (port: number, everyMs = 50): Probe {
  let running = true
  let probes = 0
  let worst = 0
  const failures: string[] = []
  const loop = (async () => {
    while (running) {
      const t0 = performance.now()
      try {
        const h = await rawRequest(port, { method: 'GET', path: '/api/v1/health', timeoutMs: 30_000 })
        if (h.status !== 200) failures.push(`health → ${h.status}`)
      } catch (e) { failures.push(`health: ${(e as Error).message}`) }
      probes++
      worst = Math.max(worst, performance.now() - t0)
      await new Promise(r => setTimeout(r, everyMs))
    }
  })()
  return { stop: async () => { running = false; await loop; return { probes, worstMs: Math.round(worst), failures } } }
}

/** Resident and peak resident memory of a process, MiB. */
export function rssOf (pid: number): { rss: number, peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0)
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) }
}
