/**
 * The audit log end to end, on a real `cairn start` process:
 *  - export: JSON Lines (application/x-ndjson), one entry per line, the same
 *    entries as GET /api/v1/audit, checkpoints included; `cairn audit export`
 *    prints the same bytes, and `cairn audit verify --file` checks them offline;
 *  - with the daemon stopped, cairn.db is edited directly: one entry edited,
 *    one deleted, one spliced in, the whole log rewritten without its
 *    invite-revoked entries (three invitations made and revoked: since issue 9, adding
 *    an entity invites it) and re-signed with a foreign key. After a restart
 *    GET /api/v1/audit/verify and `cairn audit verify` name each break.
 *    (A cut tail leaves a valid prefix: test/audit/keeper-copy.test.ts shows
 *    it against the keepers' copy.)
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { initNodeDir, startNode, stopAll, tempDir, type NodeProcess } from '../helpers/cli.js'
import { deleteEntry, editEntry, insertEntry, rewriteLog } from '../helpers/audit-tamper.js'

after(stopAll)

let p: NodeProcess
let dataDir: string
let exported: string

async function allEntries (n: NodeProcess): Promise<any[]> {
  const out: any[] = []
  for (let since = 0; ;) {
    const { entries } = await n.ok('GET', `/api/v1/audit?since=${since}&limit=1000`)
    if (entries.length === 0) return out
    out.push(...entries)
    since = entries[entries.length - 1].seq
  }
}

before(async () => {
  dataDir = initNodeDir().dataDir
  p = await startNode(dataDir)
  const gid = (await p.ok('POST', '/api/v1/groups', { name: 'audited' })).id
  for (let i = 0; i < 3; i++) {
    const other = entityIdFromPublicKey(generateSigningKey().publicKey)
    await p.ok('POST', `/api/v1/groups/${gid}/members`, { entityId: other, role: 'member' })
    await p.ok('DELETE', `/api/v1/groups/${gid}/members/${other}`)
  }
  for (let i = 0; i < 5; i++) {
    const { id } = await p.ok('POST', `/api/v1/groups/${gid}/items`, { content: `note ${i}` })
    await p.ok('DELETE', `/api/v1/items/${id}`)
  }
})

test('export: application/x-ndjson, one JSON object per line, the same entries as GET /api/v1/audit, checkpoints included', async () => {
  const r = await p.api('GET', '/api/v1/audit/export')
  assert.equal(r.status, 200)
  assert.match(r.headers.get('content-type') ?? '', /^application\/x-ndjson/)
  assert.ok(r.text.endsWith('\n'))
  const lines = r.text.slice(0, -1).split('\n')
  const parsed = lines.map(l => JSON.parse(l))
  assert.ok(parsed.every(e => e !== null && typeof e === 'object' && !Array.isArray(e)))
  const listed = await allEntries(p)
  // The export is a snapshot taken when it started; GET may have seen more since (nothing writes here meanwhile).
  assert.deepEqual(parsed, listed)
  assert.ok(parsed.some(e => e.kind === 'invite-revoked'))
  assert.ok(parsed.some(e => e.kind === 'checkpoint' && typeof e.sig === 'string'), 'the checkpoint signed at start is exported')
  assert.deepEqual(parsed.map(e => e.seq), parsed.map((_, i) => i + 1))

  const since = parsed[9].seq
  const tail = await p.api('GET', `/api/v1/audit/export?since=${since}`)
  assert.deepEqual(tail.text.slice(0, -1).split('\n').map(l => JSON.parse(l)), listed.slice(10))
  assert.equal((await p.api('GET', '/api/v1/audit/export?since=x')).status, 400)
  const doc = await p.ok('GET', '/api/v1/openapi.json')
  assert.ok(doc.paths['/api/v1/audit/export'].get.responses['200'].content['application/x-ndjson'] !== undefined, 'OpenAPI declares the ndjson content type')
  exported = r.text
})

test('cairn audit export prints the same lines; cairn audit verify --file checks them offline against the node\'s peer ID', async () => {
  const c = p.cli(['audit', 'export'])
  assert.equal(c.status, 0, c.stderr)
  const lines = c.stdout.trimEnd().split('\n')
  assert.deepEqual(lines.slice(0, exported.trimEnd().split('\n').length), exported.trimEnd().split('\n'))

  const file = join(tempDir(), 'audit.ndjson')
  writeFileSync(file, c.stdout)
  const ok = p.cli(['--json', 'audit', 'verify', '--file', file, '--peer', p.peerId])
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)
  assert.equal(ok.json.ok, true)
  assert.equal(ok.json.entries, lines.length)

  const at = lines.findIndex((l, k) => k > 3 && l.includes('"groupId"'))
  const edited = lines.map((l, i) => i === at ? l.replace(/"groupId":"[^"]+"/, '"groupId":"00000000-0000-4000-8000-000000000000"') : l)
  assert.ok(at > 0 && edited[at] !== lines[at])
  writeFileSync(file, edited.join('\n') + '\n')
  const bad = p.cli(['--json', 'audit', 'verify', '--file', file, '--peer', p.peerId])
  assert.equal(bad.status, 1)
  assert.deepEqual([bad.json.ok, bad.json.brokenAt, bad.json.reason], [false, at + 1, 'hash-mismatch'])

  const other = p.cli(['--json', 'audit', 'verify', '--file', file, '--peer', '12D3KooWLRPJAA5o6wMAsqaKcdtDzyWgfCXzh4ouRjvP2TZSZbkM'])
  assert.equal(other.json.ok, false, 'the log was not written by that node')
  const missing = p.cli(['--json', 'audit', 'verify', '--file', join(tempDir(), 'nope.ndjson')])
  assert.equal(missing.json.error.code, 'INVALID_INPUT')
})

test('GET /api/v1/audit/verify on the untouched log: ok, every checkpoint under the node key', async () => {
  const v = await p.ok('GET', '/api/v1/audit/verify')
  assert.equal(v.ok, true, JSON.stringify(v))
  assert.ok(v.entries > 10)
  const c = p.cli(['--json', 'audit', 'verify'])
  assert.equal(c.status, 0)
  assert.equal(c.json.ok, true)
  // This node's personal group has no keeper: the verdict says so, and the CLI names the fix.
  assert.equal(v.keepers?.noKeeper, true, JSON.stringify(v.keepers))
  assert.match(p.cli(['audit', 'verify']).stdout, /keepers' copy: none .*cairn group add-keeper/)
})

test('with the daemon stopped: an edited, a deleted, a spliced-in entry, and a whole rewrite re-signed with a foreign key are each named after a restart', { timeout: 120_000 }, async () => {
  assert.equal(await p.stop(), 0)
  const db = new Database(join(dataDir, 'cairn.db'), { readonly: true })
  const kinds = db.prepare('SELECT seq, kind FROM audit ORDER BY seq').all() as Array<{ seq: number, kind: string }>
  db.close()
  const removed = kinds.filter(k => k.kind === 'invite-revoked').map(k => k.seq)
  assert.ok(removed.length === 3 && kinds.some(k => k.kind === 'checkpoint'), 'the log has what the cases need (and a checkpoint from the clean stop)')
  const mid = removed[1]!

  const cases: Array<{ name: string, tamper: (db: Database.Database) => void, brokenAt: (db: Database.Database) => number, reason: string }> = [
    { name: 'edit', tamper: db => editEntry(db, mid), brokenAt: () => mid, reason: 'hash-mismatch' },
    { name: 'delete', tamper: db => deleteEntry(db, mid), brokenAt: () => mid, reason: 'gap' },
    { name: 'insert', tamper: db => insertEntry(db, mid), brokenAt: () => mid + 1, reason: 'prev-mismatch' },
    {
      name: 'rewrite without invite-revoked, re-signed with a foreign key',
      tamper: db => { assert.equal(rewriteLog(db, generateSigningKey(), k => k === 'invite-revoked'), 3) },
      brokenAt: db => (db.prepare("SELECT min(seq) AS s FROM audit WHERE kind = 'checkpoint'").get() as { s: number }).s,
      reason: 'checkpoint-foreign-key'
    }
  ]
  const dirs = cases.map(c => {
    const d = tempDir('cairn-audit-tamper-')
    cpSync(dataDir, d, { recursive: true })
    const db = new Database(join(d, 'cairn.db'))
    c.tamper(db)
    const at = c.brokenAt(db)
    db.close()
    return { c, d, at }
  })
  // One at a time: four daemons starting at once on a loaded 2-core box can miss the start timeout.
  for (const { c, d, at } of dirs) {
    const n = await startNode(d)
    const v = await n.ok('GET', '/api/v1/audit/verify')
    assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, at, c.reason], `${c.name}: ${JSON.stringify(v)}`)
    const cl = n.cli(['--json', 'audit', 'verify'])
    assert.equal(cl.status, 1, `${c.name}: cairn audit verify exits 1`)
    assert.equal(cl.json.brokenAt, at)
    const human = n.cli(['audit', 'verify'])
    assert.match(human.stdout, new RegExp(`AUDIT LOG BROKEN at entry ${at}`))
    await n.stop()
  }
})
