/**
 * Tampering at rest, end to end: with the node stopped, one byte of a stored
 * record is changed in cairn.db (better-sqlite3 on the file) — the ciphertext,
 * then each header field. After a restart, reading the item gives 422 INTEGRITY:
 * never the content, never garbage, never a 500. Listing shows the broken item as
 * an error entry and the intact ones normally.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import { fromStore } from '../../src/records/record.js'
import { initNodeDir, startNode, stopAll, waitFor, type NodeProcess } from '../helpers/cli.js'
import { assertErrorEnvelope } from '../helpers/http.js'

after(stopAll)

type Mutator = (bytes: Buffer, rec: any) => void

const flipAt = (b: Buffer, i: number, mask = 0x01): void => {
  assert.ok(i >= 0 && i < b.length, 'field not found in the record bytes')
  b[i]! ^= mask
}
/** Offset of `needle` in `b`, requiring that it occurs (and, when `unique`, only once). */
const find = (b: Buffer, needle: Uint8Array, unique = true): number => {
  const i = b.indexOf(Buffer.from(needle))
  assert.ok(i >= 0, 'field bytes not found in the record')
  if (unique) assert.equal(b.indexOf(Buffer.from(needle), i + 1), -1, 'field bytes are not unique in the record')
  return i
}
const mapEntry = (key: string, value: unknown): Uint8Array => {
  const k = encodeCanonical(key); const v = encodeCanonical(value)
  return new Uint8Array([...k, ...v])
}

interface Case { name: string, update?: boolean, mutate: Mutator }
const CASES: Case[] = [
  { name: 'a byte in the middle of the ciphertext', mutate: (b, r) => flipAt(b, find(b, r.b.ct) + Math.floor(r.b.ct.length / 2)) },
  { name: 'the last byte of the ciphertext (GCM tag)', mutate: (b, r) => flipAt(b, find(b, r.b.ct) + r.b.ct.length - 1, 0x80) },
  { name: 'the first byte of the ciphertext', mutate: (b, r) => flipAt(b, find(b, r.b.ct), 0xff) },
  { name: 'the clock', mutate: (b, r) => { const c = encodeCanonical(r.c); flipAt(b, find(b, c) + c.length - 1) } },
  { name: 'the clock (a high bit: moved years away)', mutate: (b, r) => { const c = encodeCanonical(r.c); flipAt(b, find(b, c) + 3, 0x04) } },
  { name: 'the key version, to another version this node holds', mutate: (b) => { const e = mapEntry('kv', 2); flipAt(b, find(b, e) + e.length - 1, 0x03) } }, // 2 → 1
  { name: 'the key version, to a version that does not exist', mutate: (b) => { const e = mapEntry('kv', 2); flipAt(b, find(b, e) + e.length - 1, 0x01) } }, // 2 → 3
  { name: 'the signer / author key (first copy)', mutate: (b, r) => flipAt(b, find(b, r.s, false) + 5) },
  { name: 'the signer / author key (second copy)', mutate: (b, r) => flipAt(b, b.lastIndexOf(Buffer.from(r.s)) + 7) },
  { name: 'the nonce that derives the item ID', mutate: (b, r) => flipAt(b, find(b, r.b.n) + 2) },
  { name: 'the AEAD iv', mutate: (b, r) => flipAt(b, find(b, r.b.iv) + 11) },
  { name: 'the group ID inside the record', mutate: (b, r) => flipAt(b, find(b, r.g) + 15) },
  { name: 'the record ID inside the record', mutate: (b, r) => flipAt(b, find(b, r.id) + 1) },
  { name: 'the previous-version hash of an edited item', update: true, mutate: (b, r) => flipAt(b, find(b, r.b.p) + 31) },
  { name: 'the tombstone flag (false → true)', mutate: (b) => { const e = mapEntry('del', false); flipAt(b, find(b, e) + e.length - 1) } },
  { name: 'the signature', mutate: (b, r) => flipAt(b, find(b, r.x) + 10) }
]

let p: NodeProcess
let gid: string
const items: Array<{ c: Case, id: string, content: string }> = []
const intact: Array<{ id: string, content: string }> = []

before(async () => {
  const info = initNodeDir()
  p = await startNode(info.dataDir)
  gid = (await p.ok('POST', '/api/v1/groups', { name: 'tamper' })).id
  // rotate once first, so items are under key version 2 and version 1 also exists
  const { jobId } = await p.ok('POST', `/api/v1/groups/${gid}/rotate`)
  await waitFor('rotation', async () => (await p.ok('GET', `/api/v1/jobs/${jobId}`)).state === 'done')
  for (const [i, c] of CASES.entries()) {
    const content = `tamper-secret-${i}-${'x'.repeat(300)}`
    const r = await p.ok('POST', `/api/v1/groups/${gid}/items`, { content: c.update === true ? 'first version' : content })
    assert.equal(r.keyVersion, 2)
    if (c.update === true) await p.ok('PUT', `/api/v1/items/${r.id}`, { content })
    items.push({ c, id: r.id, content })
  }
  for (let i = 0; i < 3; i++) {
    const content = `intact-${i}`
    intact.push({ id: (await p.ok('POST', `/api/v1/groups/${gid}/items`, { content })).id, content })
  }
  assert.equal(await p.stop(), 0)

  const db = new Database(join(info.dataDir, 'cairn.db'))
  const get = db.prepare('SELECT bytes, hash FROM records WHERE gid = ? AND rid = ?')
  const put = db.prepare('UPDATE records SET bytes = ? WHERE gid = ? AND rid = ?')
  for (const { c, id } of items) {
    const row = get.get(gid, id) as { bytes: Buffer, hash: Buffer }
    const rec = fromStore(row).rec
    const b = Buffer.from(row.bytes)
    c.mutate(b, rec)
    assert.notDeepEqual(b, row.bytes)
    assert.equal(b.length, row.bytes.length)
    assert.equal(put.run(b, gid, id).changes, 1)
  }
  db.close()
  p = await startNode(info.dataDir)
})

for (const [i, c] of CASES.entries()) {
  test(`tampered ${c.name}: GET → 422 INTEGRITY, never the content`, async () => {
    const { id, content } = items[i]!
    const r = await p.api('GET', `/api/v1/items/${id}`)
    assert.ok(!r.text.includes('tamper-secret'), `the tampered item's content was served: ${r.text.slice(0, 200)}`)
    assert.ok(!r.text.includes(content.slice(0, 20)))
    assertErrorEnvelope(r, 422, 'INTEGRITY')
  })
}

test('listing the group shows tampered items as INTEGRITY error entries and the intact ones with their content', async () => {
  const r = await p.api('GET', `/api/v1/groups/${gid}/items?limit=1000`)
  assert.equal(r.status, 200)
  assert.ok(!r.text.includes('tamper-secret'), 'tampered content appears in the listing')
  const byId = new Map<string, any>(r.json.items.map((it: any) => [it.id, it]))
  for (const { id, content } of intact) assert.equal(byId.get(id)?.content, content)
  for (const { c, id } of items) {
    assert.equal(byId.get(id)?.error?.code, 'INTEGRITY', `${c.name}: ${JSON.stringify(byId.get(id))}`)
  }
})

test('search (its index is rebuilt at unlock) returns no snippet of a tampered item', async () => {
  const s = await p.ok('GET', '/api/v1/search?q=tamper')
  assert.deepEqual(s.results.map((h: any) => [items.find(i => i.id === h.itemId)?.c.name, h.snippet.slice(0, 40)]), [])
})

test('a tampered item cannot be edited or shared (422); it can be deleted, which clears it; nothing is a 5xx', async () => {
  for (const { id } of items) {
    assertErrorEnvelope(await p.api('PUT', `/api/v1/items/${id}`, { content: 'overwrite' }), 422, 'INTEGRITY')
    assertErrorEnvelope(await p.api('POST', `/api/v1/items/${id}/share`, { toGroup: p.status.personalGroupId }), 422, 'INTEGRITY')
  }
  const { id } = items[0]!
  assert.equal((await p.api('DELETE', `/api/v1/items/${id}`)).status, 200)
  assertErrorEnvelope(await p.api('GET', `/api/v1/items/${id}`), 404, 'NOT_FOUND')
})

test('the node stays healthy: health, status, and new writes work', async () => {
  assert.equal((await p.api('GET', '/api/v1/health')).status, 200)
  const w = await p.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'written after tampering' })
  assert.equal((await p.ok('GET', `/api/v1/items/${w.id}`)).content, 'written after tampering')
  assert.equal(await p.stop(), 0)
})
