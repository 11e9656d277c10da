/**
 * Human-readable output: numbers with three significant figures and thousands
 * separators, and the result table `npm run bench` prints.
 */
import type { BenchReport, BenchResult, Target } from './types.js'

/** 3 significant figures, thousands separators, no exponent: 1234567 → "1,230,000", 0.01234 → "0.0123". */
export function fmtNum (v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (v === 0) return '0'
  const abs = Math.abs(v)
  const digits = Math.max(0, 2 - Math.floor(Math.log10(abs)))
  const rounded = Number(v.toPrecision(3))
  return rounded.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: Math.min(digits, 6) })
}

export const fmtValue = (v: number, unit: string): string => `${fmtNum(v)} ${unit}`

export function fmtRatio (r: number): string {
  if (!Number.isFinite(r)) return '—'
  return `${r >= 100 ? Math.round(r).toLocaleString('en-US') : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`
}

export const fmtTarget = (t: Target | undefined, unit: string): string => t === undefined ? '—' : `${t.op} ${fmtNum(t.value)} ${unit}`

/** The SPEC §8 figure and, when there is one, its ratio goal: "<= 5 ms; ratio <= 2×". */
export const fmtTargets = (r: BenchResult): string => {
  const abs = fmtTarget(r.target, r.unit)
  if (r.ratioTarget === undefined) return abs
  const rel = `ratio ${r.ratioTarget.op} ${fmtNum(r.ratioTarget.value)}×`
  return r.target === undefined ? rel : `${abs}; ${rel}`
}

/** Met: one word per target ("yes", "NO", "yes/NO" for the figure, then its ratio goal). */
export const fmtMet = (r: BenchResult): string => [r.meetsTarget, r.meetsRatioTarget].filter(m => m !== undefined).map(m => m === true ? 'yes' : 'NO').join('/')

/** @public (a helper bench/README.md lists) */
export function fmtBytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${fmtNum(n / 1024)} KiB`
  return `${fmtNum(n / 1024 / 1024)} MiB`
}

/** A plain-text table: left-aligned text columns, right-aligned numeric ones. */
export function table (head: string[], rows: string[][], rightAlign: ReadonlySet<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => rightAlign.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(head), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** The report as `npm run bench` prints it: one block per suite, notes under the table. */
export function renderReport (r: BenchReport): string {
  const m = r.machine
  const out: string[] = []
  out.push(`cairn bench · ${m.cpuModel} · ${m.cores} cores · node ${m.node} · ${m.platform}/${m.arch}${r.quick ? ' · QUICK (smoke sizes; figures are not meaningful)' : ''}`)
  out.push(`started ${r.startedAt}${r.git.commit !== null ? ` · commit ${r.git.commit.slice(0, 10)}${r.git.dirty === true ? ' (dirty)' : ''}` : ''} · load average ${m.loadAverage.join(' ')} at start, ${r.loadAverageAtEnd.join(' ')} at end`)
  const busiest = Math.max(m.loadAverage[0] ?? 0, r.loadAverageAtEnd[0] ?? 0)
  if (busiest > m.cores) out.push(`WARNING: the 1-minute load average reached ${busiest} on ${m.cores} cores: other processes competed for CPU and disk, so absolute figures are depressed (ratios, measured in interleaved windows, suffer less)`)
  const head = ['suite', 'benchmark', 'value', 'baseline (same run)', 'baseline value', 'ratio', 'target (SPEC §8)', 'met']
  const rows: string[][] = []
  const notes: string[] = []
  for (const x of r.results) {
    rows.push([x.suite, x.name, fmtValue(x.value, x.unit), x.baseline.name, fmtValue(x.baseline.value, x.baseline.unit), fmtRatio(x.ratio), fmtTargets(x), fmtMet(x)])
    if (x.notes !== undefined && x.notes !== '') notes.push(`  [${x.suite}] ${x.name}: ${x.notes}`)
  }
  out.push('')
  out.push(table(head, rows, new Set([2, 4, 5])))
  if (notes.length > 0) out.push('', 'notes:', ...notes)
  if (r.errors.length > 0) out.push('', 'FAILED suites:', ...r.errors.map(e => `  ${e.suite}: ${e.message}`))
  out.push('', 'ratio = value / baseline value (rates: > 1 is faster than the baseline; latencies and sizes: < 1 is better).')
  return out.join('\n')
}
