/**
 * Smoke test of the benchmark harness: `bench/run.ts --quick --json --no-save`
 * on the crypto and store suites (small sizes, short windows) produces a JSON
 * report with the documented fields and positive numbers; the multi-process
 * suites (mcp, replication, sync, catchup, circles, audit, keeper-memory) run at
 * smoke sizes, report every row beside a baseline, and leave no process
 * behind. No timing thresholds: figures from a busy CI box mean nothing, the
 * shape does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')

function runBench (args: string[], timeout = 120_000): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout, env: { ...process.env, CAIRN_PASSPHRASE: undefined } as NodeJS.ProcessEnv
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Like runBench, but also returns the harness's pid (node processes it starts carry it in their path). */
async function runBenchAsync (args: string[], timeout: number): Promise<{ status: number | null, stdout: string, stderr: string, pid: number }> {
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args], {
    cwd: ROOT, env: { ...process.env, CAIRN_PASSPHRASE: undefined } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  p.stdout.on('data', d => { stdout += String(d) })
  p.stderr.on('data', d => { stderr += String(d) })
  const t = setTimeout(() => p.kill('SIGKILL'), timeout)
  const status = await new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  clearTimeout(t)
  return { status, stdout, stderr, pid: p.pid! }
}

/** Processes whose command line mentions `needle`. */
function processesWith (needle: string): string[] {
  const out: string[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ')
      if (cmd.includes(needle)) out.push(`${d}: ${cmd.slice(0, 200)}`)
    } catch { /* gone */ }
  }
  return out
}

/**
 * The two multi-process smoke runs take ~3.5 minutes of the suite's time: the default
 * `npm test` stays under 10 minutes without them, and the full suite (CI, which sets
 * CI=true, or TEST_FULL=1) runs them.
 */
const FULL = process.env.CI === 'true' || process.env.TEST_FULL === '1'
const fullOnly = FULL ? false : 'the multi-process bench smoke runs with the full suite only (CI=true or TEST_FULL=1)'

const positive = (v: unknown, what: string): void => {
  assert.equal(typeof v, 'number', `${what} is a number`)
  assert.ok(Number.isFinite(v as number) && (v as number) > 0, `${what} is a positive finite number (got ${String(v)})`)
}

test('bench --quick --json on crypto and store reports every figure beside its baseline', { timeout: 150_000 }, () => {
  const r = runBench(['crypto', 'store', '--quick', '--json', '--no-save', '--quiet'])
  assert.equal(r.status, 0, `bench exited ${r.status}: ${r.stderr}`)
  const report = JSON.parse(r.stdout)

  assert.equal(report.schema, 1)
  assert.equal(report.quick, true)
  assert.deepEqual(report.suites, ['crypto', 'store'])
  assert.deepEqual(report.errors, [])
  assert.equal(typeof report.machine.cpuModel, 'string')
  assert.ok(report.machine.cores >= 1)
  assert.match(report.machine.node, /^v\d+\./)
  assert.ok(!Number.isNaN(Date.parse(report.startedAt)) && !Number.isNaN(Date.parse(report.finishedAt)))

  const names = (suite: string): string[] => report.results.filter((x: any) => x.suite === suite).map((x: any) => x.name)
  assert.deepEqual(names('crypto'), [
    'AES-256-GCM encrypt 1 KiB', 'AES-256-GCM decrypt 1 KiB', 'AES-256-GCM encrypt 1 MiB', 'AES-256-GCM decrypt 1 MiB',
    'Ed25519 sign (256 B)', 'Ed25519 verify (256 B)', 'Ed25519 sign (256 B), beside OpenSSL', 'Ed25519 verify (256 B), beside OpenSSL'
  ])
  assert.ok(names('store').length >= 1)
  assert.ok(report.results.every((x: any) => x.suite === 'crypto' || x.suite === 'store'))

  for (const x of report.results) {
    const what = `${x.suite} / ${x.name}`
    assert.equal(typeof x.name, 'string')
    assert.ok(x.unit.length > 0, `${what} has a unit`)
    positive(x.value, `${what}: value`)
    assert.equal(typeof x.baseline.name, 'string', `${what} names its baseline`)
    assert.ok(x.baseline.unit.length > 0, `${what}: baseline unit`)
    positive(x.baseline.value, `${what}: baseline value`)
    positive(x.ratio, `${what}: ratio`)
    assert.ok(Math.abs(x.ratio - x.value / x.baseline.value) < 1e-9 * x.ratio, `${what}: ratio = value / baseline`)
    if (x.target !== undefined) {
      assert.ok(x.target.op === '>=' || x.target.op === '<=')
      assert.equal(typeof x.meetsTarget, 'boolean', `${what}: meetsTarget with a target`)
    } else {
      assert.equal(x.meetsTarget, undefined, `${what}: no meetsTarget without a target`)
    }
    if (x.ratioTarget !== undefined) {
      assert.equal(x.meetsRatioTarget, x.ratioTarget.op === '>=' ? x.ratio >= x.ratioTarget.value : x.ratio <= x.ratioTarget.value, `${what}: meetsRatioTarget computed from the ratio`)
    } else {
      assert.equal(x.meetsRatioTarget, undefined, `${what}: no meetsRatioTarget without a ratio goal`)
    }
  }
  const storeRow = report.results.find((x: any) => x.suite === 'store')
  assert.match(storeRow.baseline.name, /sqlite/i)
  const aes = report.results.find((x: any) => x.name === 'AES-256-GCM encrypt 1 KiB')
  assert.equal(aes.unit, 'MB/s')
  assert.match(aes.baseline.name, /noble/)
})

test('bench rejects an unknown suite with a usage error', () => {
  const r = runBench(['no-such-suite', '--no-save'])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /unknown suite no-such-suite/)
  assert.match(r.stderr, /crypto/)
})

test('bench --list names every suite', () => {
  const r = runBench(['--list'])
  assert.equal(r.status, 0)
  for (const s of ['crypto', 'store', 'http', 'mcp', 'rotation', 'replication', 'sync', 'catchup', 'circles', 'membership', 'audit', 'group-verify', 'node-life', 'keeper-memory', 'startup']) assert.match(r.stdout, new RegExp(`^${s}\\s`, 'm'))
  assert.match(r.stdout, /^keeper-memory .*only when named/m)
  assert.match(r.stdout, /^startup .*only when named/m)
})

test('bench --quick runs the multi-process suites: every row beside a baseline, no process left behind', { timeout: 600_000, skip: fullOnly }, async () => {
  const suites = ['mcp', 'replication', 'sync', 'catchup', 'circles', 'membership', 'audit', 'group-verify', 'keeper-memory']
  const r = await runBenchAsync([...suites, '--quick', '--json', '--no-save', '--quiet'], 540_000)
  assert.equal(r.status, 0, `bench exited ${r.status}: ${r.stderr.slice(-3000)}`)
  const report = JSON.parse(r.stdout)
  assert.deepEqual(report.suites, suites)
  assert.deepEqual(report.errors, [])
  const names = (suite: string): string[] => report.results.filter((x: any) => x.suite === suite).map((x: any) => x.name as string)
  assert.deepEqual(names('mcp'), ['MCP remember latency p50', 'MCP remember latency p99', 'MCP recall latency p50', 'MCP recall latency p99'])
  assert.equal(names('replication').length, 4)
  assert.ok(names('replication').some(n => /write → stored on 2 keepers p50/.test(n)))
  assert.ok(names('replication').some(n => /sustained/.test(n)))
  assert.ok(names('sync').some(n => /reconciliation bytes/.test(n)))
  assert.ok(names('sync').some(n => /round trips/.test(n)))
  assert.ok(names('sync').some(n => /cold/.test(n)))
  assert.ok(names('catchup').some(n => /catches up/.test(n)))
  assert.ok(names('catchup').some(n => /RSS/.test(n)))
  assert.ok(names('circles').some(n => /unseal 3-of-5 over loopback p50/.test(n)))
  assert.ok(names('circles').some(n => /rotation/.test(n)))
  assert.ok(names('membership').some(n => /invite → accepted → first item readable/.test(n)))
  assert.ok(names('membership').some(n => /purge rate/.test(n)))
  assert.ok(names('audit').some(n => /audit verify/.test(n)))
  assert.ok(names('group-verify').some(n => /group verify, .* member/.test(n)))
  assert.ok(names('group-verify').some(n => /as a keeper/.test(n)))
  assert.ok(names('keeper-memory').some(n => /keeper RSS/.test(n)))
  for (const x of report.results) {
    const what = `${x.suite} / ${x.name}`
    positive(x.value, `${what}: value`)
    positive(x.baseline.value, `${what}: baseline value`)
    assert.ok(x.baseline.name.length > 0 && x.unit.length > 0 && x.baseline.unit.length > 0, `${what}: names and units`)
    if (x.target !== undefined) assert.equal(typeof x.meetsTarget, 'boolean', `${what}: meetsTarget`)
  }
  const sync = report.results.find((x: any) => x.suite === 'sync' && /reconciliation bytes/.test(x.name))
  assert.match(sync.baseline.name, /ID list/)
  const repl = report.results.find((x: any) => x.suite === 'replication')
  assert.match(repl.baseline.name, /gossipsub/)
  // Every node and gossip process the harness started has exited with it.
  assert.deepEqual(processesWith(`cairn-bench/${r.pid}/`), [], 'node processes left running')
  assert.deepEqual(processesWith(`gossip-child.ts --harness=${r.pid}`), [], 'gossip processes left running')
})

test('bench --quick runs node-life and startup: add-keeper, restart and start-up rows beside their baselines, no process left behind', { timeout: 400_000, skip: fullOnly }, async () => {
  const suites = ['node-life', 'startup']
  const r = await runBenchAsync([...suites, '--quick', '--json', '--no-save', '--quiet'], 360_000)
  assert.equal(r.status, 0, `bench exited ${r.status}: ${r.stderr.slice(-3000)}`)
  const report = JSON.parse(r.stdout)
  assert.deepEqual(report.errors, [])
  const row = (re: RegExp): any => { const x = report.results.find((y: any) => re.test(y.name)); assert.ok(x !== undefined, `no row like ${re}`); return x }
  const adopt = row(/add-keeper → adopted/)
  assert.match(adopt.baseline.name, /raw libp2p dial/)
  assert.equal(adopt.target.op, '<=')
  assert.match(row(/restart .* both keepers/).baseline.name, /start-up alone/)
  assert.match(row(/start-up of a keeper holding/).baseline.name, /SQLite file raw/)
  for (const x of report.results) {
    positive(x.value, `${x.suite} / ${x.name}: value`)
    positive(x.baseline.value, `${x.suite} / ${x.name}: baseline value`)
  }
  assert.deepEqual(processesWith(`cairn-bench/${r.pid}/`), [], 'node processes left running')
})
