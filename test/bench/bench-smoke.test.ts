/**
 * Smoke test of the benchmark harness: `bench/run.ts --quick --json --no-save`
 * on the crypto and store suites (small sizes, short windows) produces a JSON
 * report with the documented fields and positive numbers. No timing
 * thresholds: figures from a busy CI box mean nothing, the shape does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')

function runBench (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CAIRN_PASSPHRASE: undefined } as NodeJS.ProcessEnv
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

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
    'Ed25519 sign (256 B)', 'Ed25519 verify (256 B)'
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
  for (const s of ['crypto', 'store', 'http', 'rotation']) assert.match(r.stdout, new RegExp(`^${s}\\s`, 'm'))
})
