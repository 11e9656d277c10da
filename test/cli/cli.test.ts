/**
 * The CLI against a running node (real processes): --json output of the
 * documented verbs, and errors that exit non-zero and say what to do.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { randomUUID } from 'node:crypto'
import { isEntityId, isGroupId } from '../../src/crypto/ids.js'
import { PASSPHRASE, cli, initNodeDir, startNode, stopAll, tempDir, waitFor, type NodeProcess } from '../helpers/cli.js'

let p: NodeProcess
let personal: string

before(async () => {
  const info = initNodeDir()
  personal = info.personalGroupId!
  p = await startNode(info.dataDir)
})
after(stopAll)

const ok = (args: string[], env: Record<string, string | undefined> = {}): any => {
  const r = p.cli(['--json', ...args], env)
  assert.equal(r.status, 0, `cairn ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`)
  assert.ok(r.json !== undefined, `not JSON: ${r.stdout}`)
  return r.json
}
const fails = (args: string[], code: string, env: Record<string, string | undefined> = {}): void => {
  const r = p.cli(['--json', ...args], env)
  assert.notEqual(r.status, 0, `cairn ${args.join(' ')} succeeded: ${r.stdout}`)
  assert.equal(r.json?.error?.code, code, `cairn ${args.join(' ')}: ${r.stdout}${r.stderr}`)
}

test('cairn --json init prints {entityId, peerId, personalGroupId, dataDir} and creates the node files with mode 0600', () => {
  const dir = join(tempDir(), 'node')
  const r = cli(['--json', '--data-dir', dir, 'init'], { env: { CAIRN_PASSPHRASE: PASSPHRASE } })
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(Object.keys(r.json).sort(), ['dataDir', 'entityId', 'peerId', 'personalGroupId'])
  assert.ok(isEntityId(r.json.entityId))
  assert.ok(isGroupId(r.json.personalGroupId))
  assert.match(r.json.peerId, /^12D3KooW/)
  assert.equal(r.json.dataDir, resolve(dir))
  for (const f of ['node.key', 'vault.cbor', 'cairn.db']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f)
})

test('init with --passphrase-file works; init twice on one directory is refused (ALREADY_INITIALIZED)', () => {
  const dir = tempDir()
  const pf = join(tempDir(), 'pass.txt')
  writeFileSync(pf, PASSPHRASE + '\n')
  const r = cli(['--json', '--data-dir', dir, 'init', '--passphrase-file', pf])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  const again = cli(['--json', '--data-dir', dir, 'init'], { env: { CAIRN_PASSPHRASE: PASSPHRASE } })
  assert.notEqual(again.status, 0)
  assert.equal(again.json?.error?.code, 'ALREADY_INITIALIZED')
})

test('init without a passphrase and without a terminal fails at once, says how to give one, and leaves nothing behind', () => {
  const dir = join(tempDir(), 'nopass')
  const r = cli(['--data-dir', dir, 'init'], { timeoutMs: 20_000 })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /CAIRN_PASSPHRASE|--passphrase-file/, 'the message says how to provide the passphrase')
  const j = cli(['--json', '--data-dir', dir, 'init'], { timeoutMs: 20_000 })
  assert.notEqual(j.status, 0)
  assert.equal(j.json?.error?.code, 'INVALID_INPUT')
  assert.ok(!existsSync(join(dir, 'vault.cbor')) && !existsSync(join(dir, 'node.key')))
})

test('init with a too-short passphrase is refused (INVALID_INPUT) and leaves no node behind', () => {
  const dir = join(tempDir(), 'short')
  const r = cli(['--json', '--data-dir', dir, 'init'], { env: { CAIRN_PASSPHRASE: 'short' } })
  assert.notEqual(r.status, 0)
  assert.equal(r.json?.error?.code, 'INVALID_INPUT')
  assert.ok(!existsSync(join(dir, 'node.key')))
})

test('status --json gives the contract\'s fields', () => {
  const s = ok(['status'])
  for (const k of ['peerId', 'entityId', 'listenAddrs', 'unlocked', 'keeper', 'personalGroupId', 'counts', 'version']) assert.ok(k in s, `status lacks ${k}`)
  assert.equal(s.unlocked, true)
  assert.equal(s.keeper, false)
  assert.equal(s.personalGroupId, personal)
  assert.deepEqual(Object.keys(s.counts).sort(), ['groups', 'items', 'peers'])
  assert.equal(s.peerId, p.peerId)
})

test('group create | ls | show, put | get | ls | search | rm, rotate: the documented JSON', () => {
  const name = `cli group ${randomUUID()}`
  const g = ok(['group', 'create', name, '--culture', 'taciturn'])
  assert.ok(isGroupId(g.id))
  assert.equal(g.name, name)
  assert.equal(g.culture, 'taciturn')
  assert.equal(g.descriptorVersion, 1)
  assert.equal(g.keyVersion, 1)
  assert.deepEqual(g.members, [{ entityId: p.status.entityId, role: 'owner', state: 'active' }])
  assert.deepEqual(g.keepers, [])

  const ls = ok(['group', 'ls'])
  const row = ls.groups.find((x: any) => x.id === g.id)
  assert.ok(row !== undefined && ls.groups.some((x: any) => x.id === personal))
  for (const k of ['id', 'name', 'culture', 'role', 'keyVersion', 'memberCount', 'keeperCount', 'itemCount']) assert.ok(k in row, `group ls row lacks ${k}`)
  assert.equal(row.role, 'owner')
  assert.equal(row.itemCount, 0)
  assert.deepEqual(ok(['group', 'show', g.id]).members, g.members)

  const put = ok(['put', 'the quick brown fox', '--group', g.id, '--type', 'memo', '--meta', '{"source":"cli"}'])
  assert.deepEqual(Object.keys(put).sort(), ['author', 'contentHash', 'groupId', 'id', 'keyVersion', 'updatedAt'])
  assert.equal(put.groupId, g.id)
  assert.equal(put.author, p.status.entityId)
  assert.equal(put.keyVersion, 1)
  const got = ok(['get', put.id])
  assert.equal(got.content, 'the quick brown fox')
  assert.equal(got.type, 'memo')
  assert.deepEqual(got.meta, { source: 'cli' })
  assert.equal(got.provenance[0].action, 'created')

  const personalPut = ok(['put', 'into the personal group'])
  assert.equal(personalPut.groupId, personal, 'put without --group writes to the personal group')
  const fromStdin = p.cli(['--json', 'put', '--file', '-', '--group', g.id])
  assert.equal(fromStdin.status, 0)

  const upd = ok(['put', 'the lazy dog', '--id', put.id])
  assert.equal(upd.id, put.id)
  const updated = ok(['get', put.id])
  assert.equal(updated.content, 'the lazy dog')
  assert.deepEqual(updated.provenance.map((x: any) => x.action), ['created', 'modified'])

  const list = ok(['ls', '--group', g.id])
  assert.ok(Array.isArray(list.items) && 'nextCursor' in list)
  assert.ok(list.items.some((i: any) => i.id === put.id && i.content === 'the lazy dog'))
  const memo = ok(['put', 'typed item', '--group', g.id, '--type', 'memo2'])
  assert.deepEqual(ok(['ls', '--group', g.id, '--type', 'memo2']).items.map((i: any) => i.id), [memo.id])

  const found = ok(['search', 'lazy'])
  assert.ok(found.results.some((h: any) => h.itemId === put.id && h.groupId === g.id))
  assert.ok(!ok(['search', 'fox']).results.some((h: any) => h.itemId === put.id), 'the search index follows updates')

  const job = ok(['rotate', g.id])
  assert.equal(job.state, 'done')
  assert.equal(job.done, job.total)
  assert.equal(ok(['get', put.id]).keyVersion, 2)
  assert.equal(ok(['put', 'after rotation', '--group', g.id]).keyVersion, 2)

  const rm = ok(['rm', put.id])
  assert.equal(rm.deleted, true)
  fails(['get', put.id], 'NOT_FOUND')
  assert.ok(!ok(['search', 'lazy']).results.some((h: any) => h.itemId === put.id))
})

test('put --id <item> without --type keeps the item\'s type (and meta)', () => {
  const a = ok(['put', 'original', '--type', 'memo', '--meta', '{"k":1}'])
  ok(['put', 'changed', '--id', a.id])
  const got = ok(['get', a.id])
  assert.equal(got.content, 'changed')
  assert.deepEqual(got.meta, { k: 1 })
  assert.equal(got.type, 'memo')
})

test('CLI errors exit non-zero with a code (--json) or a message on stderr', () => {
  fails(['get', randomUUID()], 'NOT_FOUND')
  fails(['get', 'not-an-id'], 'NOT_FOUND')
  fails(['group', 'show', randomUUID()], 'NOT_FOUND')
  fails(['put', 'x', '--meta', 'not json'], 'INVALID_INPUT')
  fails(['put', 'x', '--group', randomUUID()], 'NOT_FOUND')
  fails(['put'], 'INVALID_INPUT')
  const human = p.cli(['get', randomUUID()])
  assert.notEqual(human.status, 0)
  assert.match(human.stderr, /^error: /)
  assert.equal(human.stdout, '')
  const unknown = p.cli(['frobnicate'])
  assert.notEqual(unknown.status, 0)
})

test('lock / unlock: a locked node refuses writes with VAULT_LOCKED and a hint to unlock; a wrong passphrase is BAD_PASSPHRASE', () => {
  ok(['lock'])
  try {
    fails(['put', 'while locked'], 'VAULT_LOCKED')
    const human = p.cli(['put', 'while locked'])
    assert.notEqual(human.status, 0)
    assert.match(human.stderr, /cairn unlock/, 'the message says what to do')
    fails(['unlock'], 'BAD_PASSPHRASE', { CAIRN_PASSPHRASE: 'definitely wrong' })
    assert.equal(ok(['status']).unlocked, false)
  } finally {
    ok(['unlock'], { CAIRN_PASSPHRASE: PASSPHRASE })
  }
  assert.equal(ok(['status']).unlocked, true)
})

async function closedPort (): Promise<number> {
  return await new Promise(resolve => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { const port = (s.address() as { port: number }).port; s.close(() => resolve(port)) })
  })
}

test('talking to a node that is not running fails with UNAVAILABLE and says to start it', async () => {
  const info = initNodeDir()
  const q = await startNode(info.dataDir)
  assert.equal(await q.stop(), 0)
  assert.ok(!existsSync(join(info.dataDir, 'daemon.json')), 'a clean stop removes daemon.json')
  const env = { CAIRN_API_PORT: String(await closedPort()) }
  const r = cli(['--json', '--data-dir', info.dataDir, 'status'], { env })
  assert.notEqual(r.status, 0)
  assert.equal(r.json?.error?.code, 'UNAVAILABLE')
  const h = cli(['--data-dir', info.dataDir, 'status'], { env })
  assert.notEqual(h.status, 0)
  assert.match(h.stderr, /cairn start/)
})

test('start on an uninitialised directory fails (NOT_INITIALIZED); a second daemon on one directory is refused', async () => {
  const empty = tempDir()
  const r = cli(['--json', '--data-dir', empty, 'start', '--api-port', '0'], { timeoutMs: 30_000 })
  assert.notEqual(r.status, 0)
  assert.equal(r.json?.error?.code, 'NOT_INITIALIZED')
  assert.deepEqual(readdirSync(empty), [])
  await assert.rejects(startNode(p.dataDir), (e: any) => e.code === 'CONFLICT')
  assert.equal((await p.api('GET', '/api/v1/health')).status, 200, 'the first daemon is unaffected')
})

test('start stops cleanly on SIGINT and on SIGTERM (exit 0, daemon.json removed)', async () => {
  const info = initNodeDir()
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const q = await startNode(info.dataDir)
    assert.ok(existsSync(join(info.dataDir, 'daemon.json')))
    assert.equal(await q.stop(sig), 0)
    await waitFor('daemon.json removed', () => !existsSync(join(info.dataDir, 'daemon.json')), 5000)
  }
})
