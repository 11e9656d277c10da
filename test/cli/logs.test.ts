/**
 * On a terminal the daemon's log is for a person (pino-pretty lines); into a
 * pipe or file it is JSON lines. Both end with "cairn node stopped".
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, PASSPHRASE, initNodeDir, stopAll, waitFor } from '../helpers/cli.js'

after(stopAll)

const hasScript = spawnSync('script', ['--version']).status === 0

test('on a terminal: readable lines (time, level, words), not JSON; the last says it stopped', { skip: hasScript ? false : 'util-linux `script` (a pseudo-terminal) is not installed' }, async () => {
  const info = initNodeDir()
  const cmd = `${process.execPath} ${BIN} --data-dir ${info.dataDir} start --api-port 0 --listen /ip4/127.0.0.1/tcp/0`
  const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_PASSPHRASE: PASSPHRASE, CAIRN_LOG_FILE: undefined }
  delete env.CAIRN_LOG_FILE
  // `script` gives the daemon a pseudo-terminal for stdout and stderr.
  // Its own process group, killed whole if the test fails (a surviving daemon would keep this file open).
  const p = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  let out = ''
  p.stdout.on('data', d => { out += String(d) })
  const exited = new Promise(resolve => p.once('exit', resolve))
  try {
    await waitFor('the started line', () => /started: API on/.test(out), 60_000, 100)
    const { pid } = JSON.parse(readFileSync(join(info.dataDir, 'daemon.json'), 'utf8')) as { pid: number }
    process.kill(pid, 'SIGTERM')
    await exited
  } finally {
    if (p.exitCode === null && p.pid !== undefined) { try { process.kill(-p.pid, 'SIGKILL') } catch { /* gone */ } }
    p.stdin.destroy(); p.stdout.destroy(); p.stderr.destroy()
  }
  const text = out.replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex
  assert.match(text, /\d\d:\d\d:\d\d\] INFO.*: cairn node …\w{6} started: API on 127\.0\.0\.1:\d+, 1 group$/m)
  assert.match(text, /INFO.*: cairn node stopped/)
  assert.doesNotMatch(text, /"level":/, 'no JSON on a terminal')
})
