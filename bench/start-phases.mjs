// Where a `cairn start` goes, per phase of Daemon.start (docs/PERFORMANCE.md,
// "Issue 14, daemon start-up"): each run makes a fresh data dir with
// `bin/cairn init` (or reuses --dir), runs `bin/cairn start` with debug logs to a
// file, reads its "start-up phases (ms)" line (src/node/start-phases.ts), stops
// it with SIGTERM, and prints the median wall and CPU ms of every phase.
// Several checkouts (comma-separated, each built) alternate run by run (ABBA),
// so load that drifts over the runs touches each alike.
//
//   node bench/start-phases.mjs <checkout>[,<checkout>…] [runs=5] [--keeper] [--dir <dataDir>]
//
// beforeDaemonStart: process start → Daemon.start (loading modules, the CLI);
// daemonStart: the sum of the phases; spawnToLogLine: as this script sees it.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const args = process.argv.slice(2)
const repos = (args[0] ?? '.').split(',').map(r => resolve(r))
const runs = Number(args[1] ?? 5)
const keeper = args.includes('--keeper')
const fixed = args.includes('--dir') ? args[args.indexOf('--dir') + 1] : undefined
const env = { ...process.env, CAIRN_PASSPHRASE: 'a passphrase for start-phases', CAIRN_MACHINE_SLOTS: '0' }
if (keeper) delete env.CAIRN_PASSPHRASE

async function startOnce (repo, i) {
  const bin = join(repo, 'bin/cairn')
  const dir = fixed ?? mkdtempSync(join(tmpdir(), 'cairn-start-phases-'))
  if (fixed === undefined) {
    const r = spawnSync(process.execPath, [bin, '--json', '--data-dir', dir, 'init', ...(keeper ? ['--keeper'] : [])], { env, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`init failed: ${r.stdout}${r.stderr}`)
  }
  const log = join(tmpdir(), `cairn-start-phases-${process.pid}-${i}.log`)
  const t0 = performance.now()
  const p = spawn(process.execPath, [bin, '--json', '--data-dir', dir, 'start', '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', ...(keeper ? ['--keeper'] : [])],
    { env: { ...env, CAIRN_LOG_FILE: log, CAIRN_LOG_LEVEL: 'debug' }, stdio: 'ignore' })
  let phases
  try {
    for (const deadline = Date.now() + 120_000; phases === undefined; await new Promise(resolve => setTimeout(resolve, 20))) {
      if (p.exitCode !== null || Date.now() > deadline) throw new Error(`the node did not start: ${existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''}`)
      if (!existsSync(log)) continue
      const line = readFileSync(log, 'utf8').split('\n').find(l => l.includes('start-up phases'))
      if (line !== undefined) phases = JSON.parse(line).phases
    }
  } finally {
    p.kill('SIGTERM')
    await new Promise(resolve => p.exitCode !== null ? resolve() : p.once('exit', resolve))
    rmSync(log, { force: true })
    if (fixed === undefined) rmSync(dir, { recursive: true, force: true })
  }
  const sum = Object.entries(phases).filter(([k]) => k !== 'sinceProcessStart').reduce((a, [, v]) => ({ ms: a.ms + v.ms, cpuMs: a.cpuMs + v.cpuMs }), { ms: 0, cpuMs: 0 })
  return { ...phases, daemonStart: sum, beforeDaemonStart: { ms: phases.sinceProcessStart.ms - sum.ms, cpuMs: phases.sinceProcessStart.cpuMs - sum.cpuMs }, spawnToLogLine: { ms: performance.now() - t0, cpuMs: NaN } }
}

const by = new Map(repos.map(r => [r, []]))
for (let i = 0; i < runs; i++) {
  for (const repo of i % 2 === 0 ? repos : [...repos].reverse()) by.get(repo).push(await startOnce(repo, i))
  process.stderr.write('.')
}
const median = xs => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const names = [...new Set([...by.values()].flat().flatMap(p => Object.keys(p)))]
console.log(`\n| phase | ${repos.map(r => `${r}: wall ms | CPU ms`).join(' | ')} |`)
console.log(`|---|${repos.map(() => '---|---').join('|')}|`)
for (const n of names) console.log(`| ${n} | ${repos.map(r => `${median(by.get(r).map(p => p[n]?.ms ?? 0)).toFixed(0)} | ${Number.isNaN(by.get(r)[0][n]?.cpuMs) ? '' : median(by.get(r).map(p => p[n]?.cpuMs ?? 0)).toFixed(0)}`).join(' | ')} |`)
