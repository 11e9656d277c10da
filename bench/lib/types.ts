/**
 * The shapes every benchmark suite shares. A suite returns BenchResult rows;
 * the harness (bench/run.ts) prints them as a table and writes them as JSON.
 *
 * Conventions (keep them when adding a suite):
 *  - `ratio` = value / baseline.value, always in that direction. For a rate
 *    (ops/s, MB/s) > 1 means faster than the baseline; for a latency or a
 *    size < 1 means better than the baseline.
 *  - The baseline is measured in the same run, on the same machine, never
 *    copied from a document.
 *  - `target` is the SPEC §8 figure when there is one; `meetsTarget` is
 *    computed by the harness from `op`, never set by hand.
 *  - `ratioTarget` is a SPEC §8 ratio goal (added 2026-12: they hold on a
 *    noisy machine where absolute figures do not), on `ratio`; likewise
 *    `meetsRatioTarget` is computed, never set.
 */

export type TargetOp = '>=' | '<='

export interface Target { op: TargetOp, value: number }

export interface Baseline {
  /** What the baseline is, e.g. "raw better-sqlite3 insert, one transaction per row". */
  name: string
  value: number
  unit: string
}

export interface BenchResult {
  suite: string
  name: string
  value: number
  unit: string
  baseline: Baseline
  /** value / baseline.value (NaN when the baseline is 0). */
  ratio: number
  target?: Target
  meetsTarget?: boolean
  /** A goal on `ratio` (e.g. ≤ 2 × the baseline latency). */
  ratioTarget?: Target
  meetsRatioTarget?: boolean
  notes?: string
  /** Extra figures a reader may want (sample counts, percentiles, sizes). */
  details?: Record<string, number | string | boolean>
}

/** What a suite hands to ctx.result(): the harness fills suite, ratio and meetsTarget. */
export type ResultInput = Omit<BenchResult, 'suite' | 'ratio' | 'meetsTarget' | 'meetsRatioTarget'>

export interface SuiteContext {
  /** Short smoke run: small sizes, short windows. Never assert timing on it. */
  readonly quick: boolean
  /** A fresh temp directory, removed when the suite ends (even when it throws). */
  tempDir: (prefix?: string) => string
  /** Run at the end of the suite, in reverse order of registration (stop nodes, close DBs). */
  defer: (fn: () => unknown) => void
  /** Progress for humans: goes to stderr, so `--json` stdout stays parseable. */
  log: (msg: string) => void
  /** Build a result row (computes ratio and meetsTarget). */
  result: (r: ResultInput) => BenchResult
}

export interface Suite {
  /** Command-line name: `npm run bench -- <name>`. */
  name: string
  /** One line shown by `npm run bench -- --list`. */
  description: string
  /** Heavy suites (minutes, gigabytes) run only when named, never by a bare `npm run bench`. */
  explicit?: boolean
  run: (ctx: SuiteContext) => Promise<BenchResult[]>
}

export interface MachineInfo {
  cpuModel: string
  cores: number
  node: string
  platform: string
  arch: string
  totalMemoryMiB: number
  loadAverage: number[]
}

export interface BenchReport {
  schema: 1
  startedAt: string
  finishedAt: string
  quick: boolean
  suites: string[]
  /** Machine info at the start (its loadAverage is the load when the run began). */
  machine: MachineInfo
  /** 1/5/15-minute load average when the run ended: a busy box shows here. */
  loadAverageAtEnd: number[]
  git: { commit: string | null, dirty: boolean | null }
  results: BenchResult[]
  errors: Array<{ suite: string, message: string }>
}
