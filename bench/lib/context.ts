/**
 * The SuiteContext the harness gives each suite: temp dirs and deferred
 * cleanup that run however the suite ends, progress logging to stderr, and
 * result rows with ratio and meetsTarget computed in one place.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchResult, ResultInput, SuiteContext, Target } from './types.js'

export interface OwnedContext extends SuiteContext {
  /** Run deferred functions (reverse order), then remove temp dirs. Never throws. */
  cleanup: () => Promise<void>
}

export function createContext (suite: string, o: { quick: boolean, verbose: boolean }): OwnedContext {
  const dirs: string[] = []
  const deferred: Array<() => unknown> = []
  return {
    quick: o.quick,
    tempDir (prefix = `cairn-bench-${suite}-`) {
      const d = mkdtempSync(join(tmpdir(), prefix))
      dirs.push(d)
      return d
    },
    defer (fn) { deferred.push(fn) },
    log (msg) { if (o.verbose) process.stderr.write(`  [${suite}] ${msg}\n`) },
    result: (r) => makeResult(suite, r),
    async cleanup () {
      for (const fn of deferred.reverse()) {
        try { await fn() } catch (e) { process.stderr.write(`  [${suite}] cleanup failed: ${e instanceof Error ? e.message : String(e)}\n`) }
      }
      deferred.length = 0
      if (process.env.CAIRN_BENCH_KEEP_DIRS === undefined || process.env.CAIRN_BENCH_KEEP_DIRS === '') for (const d of dirs) rmSync(d, { recursive: true, force: true }); else process.stderr.write(`  [${suite}] kept (CAIRN_BENCH_KEEP_DIRS): ${dirs.join(' ')}\n`)
      dirs.length = 0
    }
  }
}

export function makeResult (suite: string, r: ResultInput): BenchResult {
  const ratio = r.baseline.value === 0 ? NaN : r.value / r.baseline.value
  const out: BenchResult = { suite, name: r.name, value: r.value, unit: r.unit, baseline: r.baseline, ratio }
  const meets = (t: Target, v: number): boolean => t.op === '>=' ? v >= t.value : v <= t.value
  if (r.target !== undefined) {
    out.target = r.target
    out.meetsTarget = meets(r.target, r.value)
  }
  if (r.ratioTarget !== undefined) {
    out.ratioTarget = r.ratioTarget
    out.meetsRatioTarget = meets(r.ratioTarget, ratio)
  }
  if (r.notes !== undefined) out.notes = r.notes
  if (r.details !== undefined) out.details = r.details
  return out
}
