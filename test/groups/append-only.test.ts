/**
 * Append-only groups on one node (in-process daemon, real SQLite): entries are
 * hash-linked (each names the heads it saw); edits and deletes are refused;
 * corrections and redactions are new entries that reads apply; a rotation
 * re-encrypts every entry and the log still verifies with the same heads;
 * forged links and replacements are refused at the gate; entries written
 * before links existed stay valid; a damaged entry is named by verify.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { toHex } from '../../src/crypto/bytes.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { generateSigningKey, type SigningKey } from '../../src/crypto/sign.js'
import { commitmentOf, sealItem, type ItemBody } from '../../src/records/item.js'
import { decodeRecord, signRecord, type VerifiedRecord } from '../../src/records/record.js'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import { uuidToBytes } from '../../src/crypto/ids.js'
import { gcmEncrypt } from '../../src/crypto/aead.js'
import { pad } from '../../src/crypto/padding.js'
import { verifyHeldGroup } from '../../src/groups/group-verify.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { execFile } from 'node:child_process'
import { BIN, stopAll, waitFor } from '../helpers/cli.js'

/** The CLI against the in-process daemon: asynchronous, or the daemon in this process could not answer it. */
function cli (args: string[]): Promise<{ status: number, stdout: string, json: any }> {
  return new Promise(resolve => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, CAIRN_PASSPHRASE: undefined } as NodeJS.ProcessEnv, timeout: 60_000 }, (err, stdout) => {
      let json: any
      try { json = JSON.parse(stdout) } catch {}
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, json })
    })
  })
}

let n: LocalNode
let gid: GroupId
let me: SigningKey
const ids: string[] = []

before(async () => {
  n = await localNode()
  gid = (await n.ok('POST', '/api/v1/groups', { name: 'ledger', appendOnly: true })).id
  me = n.daemon.services.vault!.entityKey()
  for (const w of ['opening balance', 'walrus invoice', 'heron receipt']) ids.push((await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: w, type: 'entry' })).id)
})
after(async () => { await n?.stop(); await stopAll() })

const get = async (id: string): Promise<any> => await n.ok('GET', `/api/v1/items/${id}`)
const verify = async (): Promise<any> => await n.ok('GET', `/api/v1/groups/${gid}/verify`)

test('each entry names the heads it saw: a chain on one writer; verify ok with one head, contents checked', async () => {
  const [a, b, c] = await Promise.all(ids.map(get))
  assert.deepEqual(a.entry.parents, [])
  assert.deepEqual(b.entry.parents, [a.entry.commitment])
  assert.deepEqual(c.entry.parents, [b.entry.commitment])
  const v = await verify()
  assert.deepEqual({ ok: v.ok, heads: v.heads, problems: v.problems, content: v.content, appendOnly: v.appendOnly }, { ok: true, heads: [c.entry.commitment], problems: [], content: 'checked', appendOnly: true })
  assert.ok(v.records >= 4, 'descriptor, key envelope and three entries')
})

test('PUT and DELETE are refused (409 APPEND_ONLY) with what to do instead', async () => {
  const put = await n.api('PUT', `/api/v1/items/${ids[0]}`, { content: 'rewritten' })
  assert.equal(put.status, 409)
  assert.equal(put.json.error.code, 'APPEND_ONLY')
  assert.match(put.json.error.message, /corrects/)
  const del = await n.api('DELETE', `/api/v1/items/${ids[0]}`)
  assert.equal(del.status, 409)
  assert.match(del.json.error.message, /redacts/)
  assert.equal((await get(ids[0]!)).content, 'opening balance')
})

test('a correction is a new entry; reading the corrected entry serves the correction, with the original beside it', async () => {
  const fix = await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'opening balance: 120', type: 'entry', corrects: ids[0] })
  const a = await get(ids[0]!)
  assert.equal(a.content, 'opening balance: 120')
  assert.deepEqual(a.corrected.original, { type: 'entry', content: 'opening balance', meta: null })
  assert.equal(a.corrected.entry, fix.id)
  assert.equal(a.corrected.by, n.entityId)
  const f = await get(fix.id)
  assert.equal(f.entry.corrects, ids[0])
  const listed = (await n.ok('GET', `/api/v1/groups/${gid}/items`)).items.find((i: any) => i.id === ids[0])
  assert.equal(listed.content, 'opening balance: 120')
  ids.push(fix.id)
})

test('a redaction: the entry\'s content is no longer served (GET, list, search) while its place in the log stays', async () => {
  assert.equal((await n.ok('GET', '/api/v1/search?q=walrus')).results.length, 1)
  const red = await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'entered in error', type: 'redaction', redacts: ids[1] })
  const b = await get(ids[1]!)
  assert.equal(b.content, null)
  assert.equal(b.meta, null)
  assert.equal(b.redacted.entry, red.id)
  assert.ok(typeof b.entry.commitment === 'string', 'the entry keeps its place')
  const listed = (await n.ok('GET', `/api/v1/groups/${gid}/items`)).items.find((i: any) => i.id === ids[1])
  assert.equal(listed.content, null)
  assert.deepEqual((await n.ok('GET', '/api/v1/search?q=walrus')).results, [], 'no snippet of a redacted entry')
  const v = await verify()
  assert.equal(v.ok, true, JSON.stringify(v.problems))
  assert.deepEqual(v.heads, [(await get(red.id)).entry.commitment])
  ids.push(red.id)
})

test('amending what is not an entry of the group, or both at once, or outside an append-only group: a clear 4xx', async () => {
  const other = (await n.ok('POST', '/api/v1/groups', { name: 'plain' })).id
  const plainItem = (await n.ok('POST', `/api/v1/groups/${other}/items`, { content: 'x' })).id
  for (const [g, body, status] of [
    [gid, { content: 'x', corrects: plainItem }, 404],
    [gid, { content: 'x', corrects: ids[0], redacts: ids[1] }, 400],
    [other, { content: 'x', corrects: plainItem }, 400],
    [gid, { content: 'x', redacts: 'not-an-id' }, 404]
  ] as const) {
    const r = await n.api('POST', `/api/v1/groups/${g}/items`, body)
    assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.status} ${r.text}`)
  }
})

test('a rotation re-encrypts every entry (job done, none left under the old key) and the log still verifies with the same heads', async () => {
  const before = await verify()
  const { jobId } = await n.ok('POST', `/api/v1/groups/${gid}/rotate`)
  const job = await waitFor('the re-encryption', async () => { const j = await n.ok('GET', `/api/v1/jobs/${jobId}`); return j.state === 'done' || j.state === 'failed' ? j : undefined })
  assert.equal(job.state, 'done', JSON.stringify(job))
  assert.equal(job.done, ids.length)
  const raw = (await n.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000`)).items
  assert.equal(raw.length, ids.length)
  assert.ok(raw.every((r: any) => r.keyVersion === 2), 'every entry is under key version 2')
  const after = await verify()
  assert.equal(after.ok, true, JSON.stringify(after.problems))
  assert.deepEqual(after.heads, before.heads)
  assert.equal((await get(ids[0]!)).content, 'opening balance: 120', 'corrections still apply')
  assert.equal((await get(ids[1]!)).content, null, 'redactions still apply')
  assert.equal((await get(ids[2]!)).content, 'heron receipt')
})

test('gates: a replacement that is not a re-encryption, a link with a forged entry signature, a link outside an append-only group: each refused', async () => {
  const acceptor = n.daemon.services.acceptor
  const key = n.daemon.services.groups.keyFor(gid, 2)
  const clock = n.daemon.services.clock
  const head = n.daemon.services.store.getHead(gid, ids[2]!)!
  const stored = (await import('../../src/records/record.js')).decodeRecord(head.bytes) as VerifiedRecord<ItemBody>
  // The author writes a new, validly linked version of the same entry (same ID): an edit, not a re-encryption.
  const t0 = clock.tick()
  const edit = sealItem({ signer: me, groupId: gid, clock: t0, keyVersion: 2, key, plain: { type: 'entry', content: 'new words', meta: null, createdAt: t0 }, link: { parents: [] }, fixed: { nonce: stored.rec.b.n, iv: new Uint8Array(12), salt: new Uint8Array(32) } })
  assert.equal(edit.recordId, stored.recordId)
  assert.deepEqual(acceptor.ingest([edit.bytes], 'push')[0], { status: 'rejected', reason: 'append-only' })
  // Reusing the stored link under another clock: the author's entry signature no longer covers it.
  const moved = signRecord<ItemBody>(me, { t: 'item', groupId: gid, recordId: stored.recordId, clock: clock.tick(), body: { ...stored.rec.b } })
  assert.deepEqual(acceptor.ingest([moved.bytes], 'push')[0], { status: 'rejected', reason: 'bad-entry-signature' })
  // A version at the entry's own clock that links other parents is not a re-encryption either.
  const relinked = sealItem({ signer: me, groupId: gid, clock: stored.rec.c, keyVersion: 2, key, plain: { type: 'entry', content: 'heron receipt', meta: null, createdAt: stored.rec.c }, link: { parents: [] }, fixed: { nonce: stored.rec.b.n, iv: new Uint8Array(12).fill(1), salt: new Uint8Array(32) } })
  assert.deepEqual(acceptor.ingest([relinked.bytes], 'push')[0], { status: 'rejected', reason: 'append-only' })
  // A new entry whose entry signature is someone else's.
  const mallory = generateSigningKey()
  const t = clock.tick()
  const good = sealItem({ signer: me, groupId: gid, clock: t, keyVersion: 2, key, plain: { type: 'entry', content: 'x', meta: null, createdAt: t }, link: { parents: [] } })
  const forged = sealItem({ signer: mallory, groupId: gid, clock: t, keyVersion: 2, key, plain: { type: 'entry', content: 'x', meta: null, createdAt: t }, link: { parents: [] } })
  const swapped = signRecord<ItemBody>(me, { t: 'item', groupId: gid, recordId: good.recordId, clock: t, body: { ...good.rec.b, l: { ...good.rec.b.l!, es: forged.rec.b.l!.es } } })
  assert.deepEqual(acceptor.ingest([swapped.bytes], 'push')[0], { status: 'rejected', reason: 'bad-entry-signature' })
  // A link in a group that is not append-only.
  const other = (await n.ok('POST', '/api/v1/groups', { name: 'not a log' })).id as GroupId
  const okey = n.daemon.services.groups.keyFor(other, 1)
  const t2 = clock.tick()
  const linked = sealItem({ signer: me, groupId: other, clock: t2, keyVersion: 1, key: okey, plain: { type: 'entry', content: 'x', meta: null, createdAt: t2 }, link: { parents: [] } })
  assert.deepEqual(acceptor.ingest([linked.bytes], 'push')[0], { status: 'rejected', reason: 'malformed' })
  assert.equal((await verify()).ok, true)
})

test('entries without links (written before links existed) stay valid; one written after the first linked entry is named', async () => {
  const legacy = (await n.ok('POST', '/api/v1/groups', { name: 'old ledger', appendOnly: true })).id as GroupId
  const key = n.daemon.services.groups.keyFor(legacy, 1)
  const clock = n.daemon.services.clock
  const old = (content: string): VerifiedRecord<ItemBody> => { const t = clock.tick(); return sealItem({ signer: me, groupId: legacy, clock: t, keyVersion: 1, key, plain: { type: 'entry', content, meta: null, createdAt: t } }) }
  for (const c of ['a', 'b']) assert.equal(n.daemon.services.acceptor.ingest([old(c).bytes], 'sync')[0]!.status, 'stored')
  let v = await n.ok('GET', `/api/v1/groups/${legacy}/verify`)
  assert.deepEqual([v.ok, v.unlinked, v.heads], [true, 2, []])
  await n.ok('POST', `/api/v1/groups/${legacy}/items`, { content: 'linked now' })
  v = await n.ok('GET', `/api/v1/groups/${legacy}/verify`)
  assert.deepEqual([v.ok, v.unlinked, v.heads.length], [true, 2, 1])
  const late = old('after links')
  n.daemon.services.acceptor.ingest([late.bytes], 'sync')
  v = await n.ok('GET', `/api/v1/groups/${legacy}/verify`)
  assert.equal(v.ok, false)
  assert.deepEqual(v.problems, [{ recordId: late.recordId, kind: 'item', problem: 'unlinked-entry' }])
})

test('an entry whose words were changed under a valid re-encryption signature: verify names it (content-mismatch), a keeper-style verify cannot, reads refuse it', async () => {
  const store = n.daemon.services.store
  const victim = ids[2]!
  const row = store.getHead(gid, victim)!
  const stored = decodeRecord(row.bytes) as VerifiedRecord<ItemBody>
  const key = n.daemon.services.groups.keyFor(gid, stored.rec.b.kv)
  // What an admin holding the key could sign: the entry's own clear fields and link, other words.
  const head = { a: stored.rec.b.a, n: stored.rec.b.n, kv: stored.rec.b.kv, del: false, p: stored.hash, l: stored.rec.b.l! }
  const aad = encodeCanonical({ d: 'cairn/item-aad/v1', g: uuidToBytes(gid), id: uuidToBytes(victim), c: stored.rec.c, s: me.publicKey, ...head })
  const { iv, ct } = gcmEncrypt(key, pad(Buffer.concat([Buffer.alloc(32), Buffer.from(JSON.stringify({ type: 'entry', content: 'heron receipt: 0', meta: null, createdAt: stored.rec.c }))])), aad)
  const forged = signRecord<ItemBody>(me, { t: 'item', groupId: gid, recordId: victim as any, clock: stored.rec.c, body: { ...head, iv, ct } })
  store.putHead({ ...row, bytes: Buffer.from(forged.bytes), hash: Buffer.from(forged.hash), size: forged.bytes.length })
  try {
    const v = await verify()
    assert.deepEqual(v.problems, [{ recordId: victim, kind: 'item', problem: 'content-mismatch' }])
    const asKeeper = await verifyHeldGroup(n.daemon.services.ctx, gid, { now: Date.now(), maxSkewMs: 300_000 })
    assert.deepEqual([asKeeper.ok, asKeeper.content], [true, 'no-key'], 'without a key the words cannot be checked')
    assert.equal((await n.api('GET', `/api/v1/items/${victim}`)).status, 422)
  } finally { store.putHead(row) }
  assert.equal((await verify()).ok, true)
})

test('CLI: cairn put --corrects / --redacts, cairn get shows the amendment, cairn group verify (exit 0, --json the API\'s answer); OpenAPI documents verify', async () => {
  const run = async (args: string[]): ReturnType<typeof cli> => await cli(['--data-dir', n.dataDir, ...args])
  const put = await run(['--json', 'put', 'heron receipt, amount corrected', '--group', gid, '--corrects', ids[2]!])
  assert.equal(put.status, 0, put.stdout + put.stderr)
  const got = await run(['get', ids[2]!])
  assert.match(got.stdout, /heron receipt, amount corrected/)
  assert.match(got.stdout, /corrected\s+by cairn1/)
  assert.match((await run(['get', ids[1]!])).stdout, /\(redacted by cairn1/)
  const bad = await run(['--json', 'put', 'x', '--id', ids[0]!, '--corrects', ids[1]!])
  assert.equal(bad.json.error.code, 'INVALID_INPUT')
  const v = await run(['--json', 'group', 'verify', gid])
  assert.equal(v.status, 0, v.stdout)
  assert.deepEqual(v.json, await verify())
  assert.match((await run(['group', 'verify', gid])).stdout, /group intact: \d+ records checked; append-only log with 1 head/)
  const doc = await n.ok('GET', '/api/v1/openapi.json')
  assert.ok(doc.paths['/api/v1/groups/{gid}/verify']?.get?.responses?.['200'] !== undefined)
})

test('with the node stopped, a flipped byte in one stored entry: verify names that entry (and reads refuse it)', async () => {
  const victim = ids[2]!
  const head = (await import('../../src/records/record.js')).decodeRecord(n.daemon.services.store.getHead(gid, victim)!.bytes) as VerifiedRecord<ItemBody>
  const e = commitmentOf(head)!
  // The rotation above re-encrypted it: batch-signed, so a changed byte of its
  // ciphertext no longer leads to its batch's root (bad-proof, docs/RECORDS.md).
  assert.equal(head.rec.v, 2)
  await n.stop()
  const db = new Database(join(n.dataDir, 'cairn.db'))
  const row = db.prepare('SELECT bytes FROM records WHERE gid = ? AND rid = ?').get(gid, victim) as { bytes: Buffer }
  row.bytes[row.bytes.indexOf(Buffer.from(head.rec.b.ct)) + 40]! ^= 0x04
  db.prepare('UPDATE records SET bytes = ? WHERE gid = ? AND rid = ?').run(row.bytes, gid, victim)
  db.close()
  n = await localNode({ dataDir: n.dataDir })
  const v = await verify()
  assert.equal(v.ok, false)
  assert.deepEqual(v.problems, [{ recordId: victim, kind: 'item', problem: 'bad-proof' }])
  assert.equal((await n.api('GET', `/api/v1/items/${victim}`)).status, 422)
  const c = await cli(['--data-dir', n.dataDir, 'group', 'verify', gid])
  assert.equal(c.status, 1)
  assert.match(c.stdout, new RegExp(`GROUP BROKEN[\\s\\S]*${victim}\\s+item\\s+bad-proof`))
  assert.ok(typeof toHex(e) === 'string')
})
