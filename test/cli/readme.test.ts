/**
 * README's "Running a node" section works as written: every command of its
 * code blocks runs, in order, in a shell where `cairn` is what `npm link`
 * puts on the PATH, and exits 0. Only what a reader must fill in is filled in
 * (an <entityId> of another node); ports are made free ones through the
 * environment, as a second node on one machine would need.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, ROOT, initNodeDir, stopAll, tempDir, waitFor } from '../helpers/cli.js'

after(stopAll)

function section (md: string, heading: string): string[] {
  const start = md.indexOf(`## ${heading}`)
  assert.ok(start >= 0, `README has a "${heading}" section`)
  const rest = md.slice(start + 3)
  const body = rest.slice(0, rest.search(/\n##? /))
  return [...body.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(m => m[1]!.split('\n'))
}

/** The command of a line without its trailing comment (a # outside quotes). */
function command (line: string): string {
  let q: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (q !== undefined) { if (c === q) q = undefined } else if (c === '"' || c === "'") q = c
    else if (c === '#' && (i === 0 || line[i - 1] === ' ')) return line.slice(0, i).trim()
  }
  return line.trim()
}

test('every command of README "Running a node" runs as written (after `npm link`) and exits 0', { timeout: 300_000 }, async () => {
  const lines = section(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'Running a node').map(command).filter(l => l !== '')
  assert.ok(lines.length >= 15, `found ${lines.length} commands`)
  assert.equal(lines[0], 'npm link', 'the section starts by putting cairn on the PATH')
  const other = initNodeDir()
  const dataDir = join(tempDir(), 'node')
  // The reader's shell is somewhere of theirs: files a command writes (audit.ndjson) land there, not in the checkout.
  const cwd = tempDir()
  const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_DATA_DIR: dataDir, CAIRN_API_PORT: '0', CAIRN_NETWORK_LISTEN: '/ip4/127.0.0.1/tcp/0', CAIRN_PASSPHRASE: undefined, CAIRN_LOG_FILE: join(dataDir, '..', 'cairn.log') }
  // What `npm link` gives: `cairn` runs bin/cairn.
  const shell = `cairn () { ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"; }\n`
  let exports = ''
  let daemon: ReturnType<typeof spawn> | undefined
  try {
    for (const raw of lines.slice(1)) {
      const line = raw.replaceAll('<entityId>', other.entityId!)
      assert.doesNotMatch(line, /<[a-zA-Z]+>|…/, `a command a reader cannot type as written: ${raw}`)
      if (line.startsWith('export ')) { exports += line + '\n'; continue }
      if (line === 'cairn start') {
        // Its own process group: bash runs the daemon as a child, and a failing test
        // must kill both (a surviving daemon keeps the pipes, and this file, open).
        daemon = spawn('bash', ['-c', `${shell}${exports}cairn start`], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
        let out = ''
        daemon.stdout!.on('data', d => { out += String(d) })
        daemon.stderr!.on('data', d => { out += String(d) })
        await waitFor('the node to start', () => { if (daemon!.exitCode !== null) throw new Error(`cairn start exited: ${out}`); return existsSync(join(dataDir, 'daemon.json')) }, 60_000, 100)
        continue
      }
      const r = spawnSync('bash', ['-c', `${shell}${exports}${line}`], { env, cwd, encoding: 'utf8', timeout: 120_000 })
      assert.equal(r.status, 0, `\`${raw}\` exited ${r.status}:\n${r.stdout}\n${r.stderr}`)
      if (line === 'cairn stop') {
        await waitFor('the node to have stopped', () => daemon?.exitCode !== null, 30_000, 100)
        assert.equal(daemon?.exitCode, 0)
      }
    }
  } finally {
    if (daemon !== undefined && daemon.exitCode === null && daemon.pid !== undefined) {
      try { process.kill(-daemon.pid, 'SIGKILL') } catch { /* already gone */ }
    }
    daemon?.stdout?.destroy()
    daemon?.stderr?.destroy()
  }
})
