/**
 * `npm run bench [-- <suite>…] [--quick] [--json] [--no-save] [--list]`
 *
 * Runs benchmark suites (bench/suites/index.ts), prints one table of figures,
 * each beside its baseline measured in the same run, the ratio, and the SPEC §8
 * target when there is one; writes every result with machine info as JSON to
 * bench/results/latest.json and a timestamped copy. See bench/README.md.
 */
import '../src/polyfill/index.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { SUITES } from './suites/index.js'
import { createContext } from './lib/context.js'
import { gitInfo, machineInfo } from './lib/machine.js'
import { renderReport } from './lib/format.js'
import { acquireMachineSlot } from '../scripts/machine-slot.mjs'
import type { BenchReport, BenchResult, Suite } from './lib/types.js'

const ROOT = resolve(import.meta.dirname, '..')
const RESULTS_DIR = join(ROOT, 'bench/results')

const USAGE = `usage: npm run bench -- [suite…] [options]

  suite…      run only these suites (default: all but those marked *): ${SUITES.map(s => s.name + (s.explicit === true ? '*' : '')).join(', ')}
  --quick     short smoke run (small sizes, short windows): checks the harness, not the figures
  --json      print the JSON report on stdout instead of the table
  --no-save   do not write bench/results/*.json
  --quiet     no progress lines on stderr
  --list      list the suites and exit
  --help      this text`

interface Args { names: string[], quick: boolean, json: boolean, save: boolean, quiet: boolean, list: boolean, help: boolean }

function parseArgs (argv: string[]): Args {
  const a: Args = { names: [], quick: false, json: false, save: true, quiet: false, list: false, help: false }
  for (const x of argv) {
    if (x === '--quick') a.quick = true
    else if (x === '--json') a.json = true
    else if (x === '--no-save') a.save = false
    else if (x === '--quiet') a.quiet = true
    else if (x === '--list') a.list = true
    else if (x === '--help' || x === '-h') a.help = true
    else if (x.startsWith('-')) throw new UsageError(`unknown option ${x}`)
    else a.names.push(x)
  }
  return a
}

class UsageError extends Error { static override name = 'UsageError' }

function pick (names: string[]): Suite[] {
  if (names.length === 0) return SUITES.filter(s => s.explicit !== true)
  const unknown = names.filter(n => !SUITES.some(s => s.name === n))
  if (unknown.length > 0) throw new UsageError(`unknown suite ${unknown.join(', ')}; known: ${SUITES.map(s => s.name).join(', ')}`)
  return SUITES.filter(s => names.includes(s.name)) // registry order, each once
}

/** A result a reader can trust: finite numbers, units, a baseline. */
function checkResult (r: BenchResult): void {
  const bad = (what: string): never => { throw new Error(`result "${r.name}": ${what}`) }
  if (typeof r.name !== 'string' || r.name === '') bad('has no name')
  if (!Number.isFinite(r.value)) bad(`value is ${r.value}`)
  if (!Number.isFinite(r.baseline.value)) bad(`baseline value is ${r.baseline.value}`)
  if (r.unit === '' || r.baseline.unit === '') bad('has no unit')
}

async function main (): Promise<number> {
  let args: Args
  let suites: Suite[]
  try {
    args = parseArgs(process.argv.slice(2))
    suites = pick(args.names)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    process.stderr.write(`${e.message}\n\n${USAGE}\n`)
    return 2
  }
  if (args.help) { process.stdout.write(USAGE + '\n'); return 0 }
  if (args.list) {
    for (const s of SUITES) process.stdout.write(`${s.name.padEnd(14)} ${s.description}${s.explicit === true ? ' [only when named]' : ''}\n`)
    return 0
  }

  await acquireMachineSlot('npm run bench')
  const startedAt = new Date()
  const machine = machineInfo()
  const results: BenchResult[] = []
  const errors: BenchReport['errors'] = []
  const progress = (msg: string): void => { if (!args.quiet) process.stderr.write(msg + '\n') }
  for (const suite of suites) {
    progress(`▶ ${suite.name}${args.quick ? ' (quick)' : ''}`)
    const ctx = createContext(suite.name, { quick: args.quick, verbose: !args.quiet })
    const t = process.hrtime.bigint()
    try {
      const rs = await suite.run(ctx)
      if (rs.length === 0) throw new Error('the suite returned no results')
      for (const r of rs) { checkResult(r); results.push(r) }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      errors.push({ suite: suite.name, message })
      progress(`  ✗ ${suite.name} failed: ${e instanceof Error && e.stack !== undefined ? e.stack : message}`)
    } finally {
      await ctx.cleanup()
    }
    progress(`  ${suite.name}: ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s`)
  }

  const report: BenchReport = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: args.quick,
    suites: suites.map(s => s.name),
    machine,
    loadAverageAtEnd: loadavg().map(x => Math.round(x * 100) / 100),
    git: gitInfo(ROOT),
    results,
    errors
  }
  const json = JSON.stringify(report, null, 2) + '\n'
  let saved: string | undefined
  if (args.save) {
    mkdirSync(RESULTS_DIR, { recursive: true })
    const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
    writeFileSync(join(RESULTS_DIR, `${stamp}${args.quick ? '-quick' : ''}.json`), json)
    saved = join(RESULTS_DIR, 'latest.json')
    writeFileSync(saved, json)
  }
  if (args.json) {
    process.stdout.write(json)
    if (saved !== undefined) process.stderr.write(`results: ${relative(process.cwd(), saved)}\n`)
  } else {
    process.stdout.write(renderReport(report) + '\n')
    if (saved !== undefined) process.stdout.write(`\nresults written to ${relative(process.cwd(), saved)} (and a timestamped copy beside it)\n`)
  }
  return errors.length > 0 ? 1 : 0
}

main().then(code => process.exit(code), (e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error && e.stack !== undefined ? e.stack : String(e)}\n`)
  process.exit(1)
})
