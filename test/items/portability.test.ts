/**
 * Portability end to end on a real `cairn start` process: `cairn export` writes
 * JSON Lines of decrypted items with provenance; `cairn import` reads them into a
 * new group with the same contents and the provenance links intact (the
 * exported chain, a link to each exported item, a source's shared-from link);
 * running the import again adds nothing; a sealed circle is left out and named.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { initNodeDir, startNode, stopAll, tempDir, type NodeProcess } from '../helpers/cli.js'

after(async () => { await stopAll() })

describe('export → import round trip', { timeout: 180_000 }, () => {
  let n: NodeProcess
  let X: string, Y: string, circle: string
  const exported = new Map<string, any>()

  before(async () => {
    const a = initNodeDir()
    const other = initNodeDir()
    n = await startNode(a.dataDir)
    X = (await n.ok('POST', '/api/v1/groups', { name: 'research notes' })).id
    Y = (await n.ok('POST', '/api/v1/groups', { name: 'inbox' })).id
    circle = (await n.ok('POST', '/api/v1/groups', { name: 'vault of two', circle: { threshold: 2, members: [other.entityId] } })).id
    await n.ok('POST', `/api/v1/groups/${X}/items`, { content: 'plain words, ünïcödé ✓', meta: { source: 'chat', tags: ['a', 'b'] } })
    await n.ok('POST', `/api/v1/groups/${X}/items`, { type: 'task', content: { title: 'write the report', due: '2027-01-15', steps: [1, 2, 3] }, meta: null })
    const edited = await n.ok('POST', `/api/v1/groups/${X}/items`, { content: 'first draft' })
    await n.ok('PUT', `/api/v1/items/${edited.id}`, { content: 'second draft' })
    const gone = await n.ok('POST', `/api/v1/groups/${X}/items`, { content: 'deleted before the export' })
    await n.ok('DELETE', `/api/v1/items/${gone.id}`)
    const src = await n.ok('POST', `/api/v1/groups/${Y}/items`, { content: 'shared from the inbox', type: 'mail' })
    await n.ok('POST', `/api/v1/items/${src.id}/share`, { toGroup: X })
  })

  test('cairn export --group writes one line per live item: decrypted, with provenance and record hash, to a 0600 file', async () => {
    const file = join(tempDir('cairn-export-'), 'x.jsonl')
    const r = n.cli(['export', '--group', X, '--output', file])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /exported 4 item/)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const lines = readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l))
    assert.equal(lines.length, 4)
    for (const l of lines) {
      assert.equal(l.groupId, X)
      assert.equal(l.groupName, 'research notes')
      assert.match(l.hash, /^[0-9a-f]{64}$/)
      assert.equal(l.provenance.at(-1).hash, l.hash, 'the last provenance entry is the record exported')
      exported.set(l.id, l)
    }
    const contents = lines.map(l => l.content)
    assert.ok(!contents.includes('deleted before the export'))
    assert.ok(contents.includes('second draft') && !contents.includes('first draft'))
    const edited = lines.find(l => l.content === 'second draft')
    assert.deepEqual(edited.provenance.map((p: any) => p.action), ['created', 'modified'])
    const shared = lines.find(l => l.content === 'shared from the inbox')
    assert.equal(shared.type, 'mail')
    assert.equal(shared.provenance[0].action, 'shared-from')
    assert.equal(shared.provenance[0].source.groupId, Y)
    writeFileSync(join(n.dataDir, 'export-path'), file)
  })

  test('cairn import --new-group: same contents, creation times kept, provenance = exported chain + imported-from link; a second run adds nothing', async () => {
    const file = readFileSync(join(n.dataDir, 'export-path'), 'utf8')
    const r = n.cli(['--json', 'import', file, '--new-group', 'research notes (copy)'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.imported, 4)
    assert.equal(r.json.duplicates, 0)
    const Z = r.json.groupId
    assert.notEqual(Z, X)
    const { items } = await n.ok('GET', `/api/v1/groups/${Z}/items?limit=100`)
    assert.equal(items.length, 4)
    for (const out of r.json.items) {
      const src = exported.get(out.sourceId)
      assert.ok(src !== undefined, `imported ${out.sourceId} was exported`)
      const it = await n.ok('GET', `/api/v1/items/${out.id}`)
      assert.equal(it.groupId, Z)
      assert.deepEqual([it.type, it.content, it.meta], [src.type, src.content, src.meta])
      assert.equal(Date.parse(it.createdAt), Date.parse(src.createdAt), 'the creation time is the original one')
      const carried = it.provenance.filter((p: any) => p.imported === true)
      assert.deepEqual(carried.map(({ imported, ...p }: any) => p), src.provenance, 'the exported chain comes first, unchanged')
      const link = it.provenance[carried.length]
      assert.equal(link.action, 'imported-from')
      assert.deepEqual(link.source, { groupId: X, itemId: src.id, hash: src.hash, author: src.author })
      assert.equal(link.by, it.author, 'the importer signed the copy')
    }
    const copy = items.find((i: any) => i.content === 'shared from the inbox')
    const prov = (await n.ok('GET', `/api/v1/items/${copy.id}`)).provenance
    assert.ok(prov.some((p: any) => p.action === 'shared-from' && p.source.groupId === Y), 'the shared-from link survives')
    // The words of the copies are searchable like any others.
    const hits = (await n.ok('GET', `/api/v1/search?q=report&group=${Z}`)).results
    assert.equal(hits.length, 1)
    const again = n.cli(['--json', 'import', file, '--group', Z])
    assert.equal(again.status, 0, again.stdout + again.stderr)
    assert.deepEqual([again.json.imported, again.json.duplicates], [0, 4])
    assert.equal((await n.ok('GET', `/api/v1/groups/${Z}/items?limit=100`)).items.length, 4)
    const audit = (await n.ok('GET', '/api/v1/audit?limit=1000')).entries
    assert.ok(audit.some((e: any) => e.kind === 'items-exported' && e.count === 4 && e.groups.includes(X)))
    assert.ok(audit.some((e: any) => e.kind === 'items-imported' && e.groupId === Z && e.imported === 4))
  })

  test('export of everything leaves out a sealed circle and names it; the circle alone is 423', async () => {
    const r = n.cli(['export'])
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l))
    const groups = new Set(lines.map(l => l.groupId))
    assert.ok(groups.has(X) && groups.has(Y))
    assert.ok(!groups.has(circle))
    assert.ok(r.stderr.includes(circle), r.stderr)
    const res = await n.api('GET', `/api/v1/export?group=${circle}`)
    assert.equal(res.status, 423)
    assert.equal(res.json.error.code, 'CIRCLE_SEALED')
  })

  test('bad import input: a non-JSON line stops the CLI before anything is written; bad lines over the API are reported, not stored', async () => {
    const dir = tempDir('cairn-import-')
    const bad = join(dir, 'bad.jsonl')
    writeFileSync(bad, JSON.stringify([...exported.values()][0]) + '\n{not json\n')
    const Z = (await n.ok('POST', '/api/v1/groups', { name: 'empty' })).id
    const r = n.cli(['--json', 'import', bad, '--group', Z])
    assert.equal(r.status, 2)
    assert.equal(r.json.error.code, 'INVALID_INPUT')
    assert.equal((await n.ok('GET', `/api/v1/groups/${Z}/items`)).items.length, 0)
    const good = [...exported.values()][0]
    const res = await n.ok('POST', `/api/v1/groups/${Z}/import`, {
      items: [{ ...good, hash: 'zz' }, { ...good, provenance: [{ action: 'forged' }] }, { id: good.id, groupId: X, error: { code: 'INTEGRITY', message: 'x' } }]
    })
    assert.deepEqual([res.imported, res.invalid], [0, 3])
    for (const [body, want] of [[{}, 400], [{ items: [] }, 400], [{ items: 'x' }, 400], [{ items: [7] }, 400]] as const) {
      assert.equal((await n.api('POST', `/api/v1/groups/${Z}/import`, body)).status, want)
    }
    assert.equal((await n.api('POST', '/api/v1/groups/6b1c8f52-2a43-4a8e-9d0e-3f1d2c4b5a69/import', { items: [good] })).status, 404)
  })
})
