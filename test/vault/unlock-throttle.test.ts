/**
 * Unlock attempts are serialized with a growing pause after failures: six
 * concurrent wrong unlocks took a daemon from 126 to 638 MiB on main (each
 * scrypt costs 128 MiB). Now one runs at a time, the rest get 429 THROTTLED,
 * and neither memory nor the guessing rate grows with the number of callers.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { AttemptThrottle } from '../../src/vault/attempt-throttle.js'
import { CairnError } from '../../src/util/errors.js'
import { initNodeDir, PASSPHRASE, startNode, stopAll } from '../helpers/cli.js'
import { assertErrorEnvelope } from '../helpers/http.js'

after(async () => { await stopAll() })

const peakRssMiB = (pid: number): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m![1]) / 1024
}

test('six concurrent wrong unlocks: one scrypt at a time (peak RSS bounded), the rest 429 THROTTLED; the right passphrase works after the pause', async (t) => {
  const info = initNodeDir()
  const node = await startNode(info.dataDir, { passphrase: null })
  const pid = node.proc.pid!
  await node.ok('GET', '/api/v1/status')
  const before = peakRssMiB(pid)
  const attempt = async (p: string) => await node.api('POST', '/api/v1/unlock', { passphrase: p })
  const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => attempt(`wrong passphrase ${i}`)))
  const grew = peakRssMiB(pid) - before
  t.diagnostic(`peak RSS ${Math.round(before)} → ${Math.round(before + grew)} MiB during six concurrent wrong unlocks`)
  const codes = rs.map(r => r.json?.error?.code)
  // Concurrent attempts meet a running one; on a loaded machine some may arrive after it ended (then the free failures run).
  const bad = codes.filter(c => c === 'BAD_PASSPHRASE').length
  assert.ok(bad >= 1 && bad <= 3, codes.join(','))
  let refused = 0
  for (const r of rs.filter(r => r.status !== 401)) {
    assertErrorEnvelope(r, 429, 'THROTTLED')
    assert.ok(Number(r.headers.get('retry-after')) >= 1)
    assert.equal(typeof r.json.error.retryAfterSeconds, 'number')
    refused++
  }
  assert.equal(refused, 6 - bad)
  // main: 4 scrypts at once on libuv's pool (+~500 MiB); here at most one (+128 MiB)
  assert.ok(grew < 300, `peak RSS grew by ${Math.round(grew)} MiB`)

  // more wrong guesses: after the two free ones, the pause starts
  let failures = bad
  let paused: Awaited<ReturnType<typeof attempt>> | undefined
  for (let i = 0; i < 5 && paused === undefined; i++) {
    const r = await attempt(`wrong again ${i}`)
    if (r.status === 429) { paused = r; refused++ } else { assertErrorEnvelope(r, 401, 'BAD_PASSPHRASE'); failures++ }
  }
  assert.ok(paused !== undefined, 'the pause engaged')
  assert.equal(failures, 3, 'two free failures, the third starts the pause')
  // even the right passphrase waits out the pause
  const right = await attempt(PASSPHRASE)
  assertErrorEnvelope(right, 429, 'THROTTLED')
  refused++
  assert.equal((await node.ok('GET', '/api/v1/status')).unlocked, false)
  await new Promise(r => setTimeout(r, right.json.error.retryAfterSeconds * 1000 + 100))
  assert.equal((await attempt(PASSPHRASE)).status, 200)
  assert.equal((await node.ok('GET', '/api/v1/status')).unlocked, true)
  assert.match((await node.api('GET', '/metrics')).text, new RegExp(`cairn_unlock_throttled_total ${refused}\\b`))
  const audit = await node.ok('GET', '/api/v1/audit?limit=1000')
  assert.equal(audit.entries.filter((e: { kind: string }) => e.kind === 'unlock-failed').length, failures, 'only attempts that ran are audited')
  await node.stop()
})

test('AttemptThrottle: the pause doubles after each counted failure, other errors do not count, success resets', async () => {
  let now = 0
  const t = new AttemptThrottle('test', { freeFailures: 1, baseDelayMs: 1000, maxDelayMs: 4000, now: () => now })
  const wrong = async (): Promise<never> => { throw new CairnError('BAD_PASSPHRASE', 'no') }
  const isWrong = (e: unknown): boolean => (e as CairnError).code === 'BAD_PASSPHRASE'
  const code = async (p: Promise<unknown>): Promise<string> => { try { await p; return 'ok' } catch (e) { return (e as CairnError).code } }
  assert.equal(await code(t.attempt(wrong, isWrong)), 'BAD_PASSPHRASE') // free
  assert.equal(await code(t.attempt(wrong, isWrong)), 'BAD_PASSPHRASE') // pause 1 s starts
  assert.equal(await code(t.attempt(async () => 1, isWrong)), 'THROTTLED')
  now += 1000
  assert.equal(await code(t.attempt(wrong, isWrong)), 'BAD_PASSPHRASE') // pause 2 s
  now += 1999
  assert.equal(await code(t.attempt(async () => 1, isWrong)), 'THROTTLED')
  now += 1
  assert.equal(await code(t.attempt(async () => { throw new CairnError('INTEGRITY', 'damaged') }, isWrong)), 'INTEGRITY') // not counted
  assert.equal(t.failureCount, 3)
  assert.equal(await code(t.attempt(wrong, isWrong)), 'BAD_PASSPHRASE') // pause 4 s
  now += 4000
  assert.equal(await code(t.attempt(wrong, isWrong)), 'BAD_PASSPHRASE') // capped at 4 s
  now += 4000
  // concurrent: the second is refused while the first runs
  let release!: () => void
  const slow = t.attempt(async () => { await new Promise<void>(r => { release = r }); return 'ok' }, isWrong)
  assert.equal(await code(t.attempt(async () => 1, isWrong)), 'THROTTLED')
  release()
  assert.equal(await slow, 'ok')
  assert.equal(t.failureCount, 0)
  assert.equal(await code(t.attempt(async () => 1, isWrong)), 'ok')
  assert.equal(t.refused, 3)
})
