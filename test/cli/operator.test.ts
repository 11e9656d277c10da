/**
 * Running a node from the command line (real processes): stop and version,
 * what status warns about, short IDs, jobs and Ctrl-C while following one,
 * doctor, the newest audit entries, and errors that say what to do (the
 * friction list of issue 8, part 8).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import Database from 'better-sqlite3'
import { BIN, PASSPHRASE, cli, initNodeDir, startNode, stopAll, waitFor, type NodeProcess } from '../helpers/cli.js'

let p: NodeProcess
let personal: string

before(async () => {
  const info = initNodeDir()
  personal = info.personalGroupId!
  p = await startNode(info.dataDir)
})
after(stopAll)

const ok = (args: string[]): any => {
  const r = p.cli(['--json', ...args])
  assert.equal(r.status, 0, `cairn ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`)
  return r.json
}

test('cairn version names the CLI and the running node; cairn stop stops it like SIGTERM and waits', async () => {
  const info = initNodeDir()
  const q = await startNode(info.dataDir)
  const v = q.cli(['--json', 'version'])
  assert.equal(v.status, 0, v.stderr)
  assert.equal(v.json.cli, v.json.daemon)
  assert.match(v.json.cli, /^\d+\.\d+\.\d+/)
  const exited = new Promise<number | null>(resolve => q.proc.once('exit', code => resolve(code)))
  const s = q.cli(['stop'])
  assert.equal(s.status, 0, s.stderr)
  assert.equal(s.stdout.trim(), 'stopped')
  assert.equal(await exited, 0, 'the daemon process exits 0')
  assert.equal(existsSync(join(info.dataDir, 'daemon.json')), false)
  const log = readFileSync(join(info.dataDir, 'cairn.log'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as { msg: string, level: number })
  assert.equal(log[log.length - 1]!.msg, 'cairn node stopped', 'the last log line says it stopped')
  const again = q.cli(['--json', 'stop'])
  assert.equal(again.status, 0)
  assert.deepEqual(again.json, { stopped: true, wasRunning: false })
  const off = q.cli(['--json', 'version'])
  assert.equal(off.json.daemon, null)
})

test('POST /api/v1/shutdown answers 202 {stopping:true}, then the daemon stops', async () => {
  const info = initNodeDir()
  const q = await startNode(info.dataDir)
  const exited = new Promise<number | null>(resolve => q.proc.once('exit', code => resolve(code)))
  const r = await q.api('POST', '/api/v1/shutdown')
  assert.equal(r.status, 202)
  assert.deepEqual(r.json, { stopping: true })
  assert.equal(await exited, 0)
})

test('status warns about a group no keeper holds; lock on a keeper is an error, not "locked"', async () => {
  const s = ok(['status'])
  assert.ok(s.warnings.some((w: any) => w.code === 'NO_KEEPER' && w.groupId === personal), JSON.stringify(s.warnings))
  const human = p.cli(['status'])
  assert.match(human.stdout, /warning: group .* has no keeper/)
  const k = initNodeDir({ keeper: true })
  const K = await startNode(k.dataDir, { keeper: true })
  const lock = K.cli(['--json', 'lock'])
  assert.notEqual(lock.status, 0)
  assert.equal(lock.json.error.code, 'KEEPER_HAS_NO_KEYS')
  await K.stop()
})

test('short IDs: a group by prefix or by name, an item by prefix; an ambiguous or unknown one says so', () => {
  assert.equal(ok(['group', 'show', personal.slice(0, 8)]).id, personal)
  assert.equal(ok(['group', 'show', 'personal']).id, personal)
  const a = ok(['put', 'first short id'])
  const b = ok(['put', 'second short id'])
  assert.equal(ok(['get', a.id.slice(0, 6)]).content, 'first short id')
  let common = 0
  while (a.id[common] === b.id[common]) common++
  if (common > 0) {
    const amb = p.cli(['--json', 'get', a.id.slice(0, common)])
    assert.equal(amb.json.error.code, 'INVALID_INPUT')
  }
  const none = p.cli(['--json', 'get', 'ffffffff0'])
  assert.equal(none.json.error.code, 'NOT_FOUND')
  const g = p.cli(['group', 'show', 'no such group'])
  assert.equal(g.status, 1)
  assert.match(g.stderr, /cairn group ls/)
  assert.equal(ok(['group', 'list']).groups.length, ok(['group', 'ls']).groups.length, '`group list` is `group ls`')
})

test('group show prints the replication state of each keeper and member node', () => {
  const g = ok(['group', 'show', personal])
  assert.deepEqual(g.replication, [], 'no keeper and no other device yet')
  const human = p.cli(['group', 'show', personal])
  assert.match(human.stdout, /the records are only here/)
})

test('bad input names what is allowed: --api-port abc, an enum value, a role', async () => {
  const r = cli(['--data-dir', p.dataDir, 'start', '--api-port', 'abc'])
  assert.equal(r.status, 2)
  assert.doesNotMatch(r.stderr, /null/)
  assert.match(r.stderr, /port number from 0 to 65535/)
  const c = p.cli(['group', 'create', 'x', '--culture', 'loud'])
  assert.equal(c.status, 2)
  assert.match(c.stderr, /chatty, taciturn/)
  const api = await p.api('POST', `/api/v1/groups/${personal}/members`, { entityId: 'cairn1x', role: 'boss' })
  assert.equal(api.status, 400)
  assert.match(api.json.error.message, /owner, admin, member, viewer/)
  // An address that names another peer than the keeper is refused before anything changes.
  const K = '12D3KooWLXa3MnXhvDn5Qwu4UDr5vXvh4Spzvag6WqxGQ9rNqDCh'
  const other = '12D3KooWM75v42EfKEGgCnyvQoNBeP9XEfS5fBPTXuEk9Vry2mn9'
  const before = (await p.ok('GET', `/api/v1/groups/${personal}`)).descriptorVersion
  for (const multiaddr of [`/ip4/127.0.0.1/tcp/4001/p2p/${other}`, `/ip4/127.0.0.1/tcp/4001/p2p/${K}/p2p/${K}`, 'not an address']) {
    const bad = await p.api('POST', `/api/v1/groups/${personal}/keepers`, { peerId: K, multiaddr })
    assert.equal(bad.status, 400, multiaddr)
    assert.equal(bad.json.error.code, 'INVALID_INPUT')
  }
  assert.equal((await p.ok('GET', `/api/v1/groups/${personal}`)).descriptorVersion, before, 'no keeper was added')
})

test('no daemon: one consistent message naming the data dir and the configured port, no contradicting hint', async () => {
  const info = initNodeDir()
  const port = await new Promise<number>(resolve => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const n = (s.address() as { port: number }).port; s.close(() => resolve(n)) }) })
  writeFileSync(join(info.dataDir, 'config.toml'), `[api]\nport = ${port}\n`)
  const q = await startNode(info.dataDir)
  await q.stop()
  const r = cli(['--data-dir', info.dataDir, 'status'])
  assert.equal(r.status, 1)
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}\\b`), 'the port of this node\'s config, not the default')
  assert.match(r.stderr, new RegExp(`cairn start --data-dir ${info.dataDir}`))
  assert.doesNotMatch(r.stderr, /hint:/)
})

test('audit shows the newest entries (newest last) by default; --since reads forward', () => {
  for (let i = 0; i < 3; i++) ok(['put', `audited ${i}`])
  const all = ok(['audit', '--since', '0', '-n', '1000']).entries
  const newest = ok(['audit', '-n', '2']).entries
  assert.deepEqual(newest.map((e: any) => e.seq), all.slice(-2).map((e: any) => e.seq))
})

test('jobs lists jobs; Ctrl-C while following one says it goes on and how to follow it again', async () => {
  const info = initNodeDir()
  const q = await startNode(info.dataDir, { passphrase: null }) // locked: a job cannot run
  await q.stop()
  // A job the daemon resumes only after an unlock: following it waits.
  const db = new Database(join(info.dataDir, 'cairn.db'))
  const id = randomUUID()
  db.prepare("INSERT INTO jobs (id, kind, gid, state, done, total, params, error, created, updated) VALUES (?, 'reencrypt', ?, 'queued', 0, 10, '{}', NULL, ?, ?)").run(id, info.personalGroupId, Date.now(), Date.now())
  db.close()
  const r = await startNode(info.dataDir, { passphrase: null })
  const list = r.cli(['--json', 'jobs'])
  assert.equal(list.json.jobs[0].id, id)
  assert.equal(r.cli(['--json', 'jobs', id.slice(0, 8)]).json.state, 'queued', 'a job by ID prefix')
  const f = spawn(process.execPath, [BIN, '--data-dir', info.dataDir, 'jobs', id, '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  f.stderr.on('data', d => { err += String(d) })
  // SIGINT only once the CLI follows (a loaded machine takes seconds to start it).
  await waitFor('the CLI to follow the job', () => /following job/.test(err), 60_000, 50)
  const code = new Promise<number | null>(resolve => f.once('exit', c => resolve(c)))
  f.kill('SIGINT')
  assert.equal(await code, 130)
  assert.match(err, /goes on in the node/)
  assert.match(err, new RegExp(`cairn jobs ${id} --follow`))
  await r.stop()
})

test('doctor checks the data dir and the whole store; a damaged store is a problem, exit 1', async () => {
  const d = p.cli(['--json', 'doctor'])
  assert.equal(d.status, 0, d.stdout)
  assert.ok(d.json.checks.some((c: any) => c.name === 'store integrity' && c.ok))
  assert.ok(d.json.checks.some((c: any) => c.name === 'signatures' && c.ok && /libsodium \(sodium-native\)/.test(c.detail)), d.stdout)
  const info = initNodeDir()
  const path = join(info.dataDir, 'cairn.db')
  const db = new Database(path)
  for (let i = 0; i < 200; i++) db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(`filler${i}`, 'x'.repeat(2000))
  db.close()
  const bytes = readFileSync(path)
  // Scribble over an index page's cell area: a corrupt page, as a bad disk leaves one.
  const pageSize = bytes.readUInt16BE(16)
  for (let page = 2; page * pageSize < bytes.length; page += 2) bytes.fill(0x5a, page * pageSize + 100, page * pageSize + 400)
  writeFileSync(path, bytes)
  const bad = cli(['--json', '--data-dir', info.dataDir, 'doctor'])
  assert.equal(bad.status, 1, bad.stdout)
  assert.ok(bad.json.checks.some((c: any) => c.name.startsWith('store') && !c.ok), bad.stdout)
})
