/**
 * The OpenAPI 3.1 document: valid (Redocly's recommended-strict rules), complete
 * (operationIds, typed responses, error responses, SSE typed as such), and true:
 * a tour calls every operation through the typed client, and every answer is
 * checked against the document (as every response in the API suites is, by
 * test/helpers/openapi-check.ts).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { CairnClient, CairnError } from '../../src/client/index.js'
import { routes, type OperationId } from '../../src/contract/routes.js'
import { VERSION } from '../../src/node/version.js'
import { openApiDocument } from '../../src/api/openapi.js'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { checkingFetch, checkResponse, DOC } from '../helpers/openapi-check.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll, waitFor } from '../helpers/cli.js'

let n: LocalNode
before(async () => { n = await localNode() })
after(async () => { await n?.stop(); await stopAll() })

const operations = (): Array<[string, string, any]> => Object.entries(DOC.paths as Record<string, any>).flatMap(([p, ms]) => Object.entries(ms).map(([m, op]) => [m, p, op] as [string, string, any]))

test('the served document is the generated one and passes Redocly\'s recommended-strict lint with no problem', async () => {
  const served = await n.ok('GET', '/api/v1/openapi.json')
  assert.deepEqual(served, JSON.parse(JSON.stringify(openApiDocument(VERSION))))
  assert.equal(served.openapi, '3.1.0')
  const config = await createConfig({ extends: ['recommended-strict'] })
  const problems = await lintFromString({ source: JSON.stringify(served), absoluteRef: 'openapi.json', config })
  assert.deepEqual(problems.map(p => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? ''}`), [])
})

test('every operation has a unique operationId, a summary, a typed success response and its error responses', () => {
  const ids = new Set<string>()
  const ops = operations()
  assert.equal(ops.length, Object.keys(routes).length)
  for (const [m, p, op] of ops) {
    const where = `${m.toUpperCase()} ${p}`
    assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${where}: operationId`)
    assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is used twice`)
    ids.add(op.operationId)
    assert.ok(typeof op.summary === 'string' && op.summary.length > 5, `${where}: summary`)
    const success = Object.entries(op.responses).filter(([s, r]) => s.startsWith('2') && (r as any)['x-cairn-in-progress'] !== true)
    assert.equal(success.length, 1, `${where}: one success response`)
    const [media, content] = Object.entries((success[0]![1] as any).content)[0] as [string, any]
    if (media === 'application/json') {
      assert.ok(content.schema.$ref !== undefined || Object.keys(content.schema).length > 1, `${where}: the success schema says something: ${JSON.stringify(content.schema)}`)
    }
    for (const s of ['400', '401', '403', '404']) assert.deepEqual(op.responses[s]?.content?.['application/json']?.schema, { $ref: '#/components/schemas/Error' }, `${where}: error ${s}`)
    if (op.requestBody !== undefined) assert.ok(op.responses['413'] !== undefined, `${where}: 413 for a body`)
    for (const param of (p.match(/\{(\w+)\}/g) ?? []).map(x => x.slice(1, -1))) {
      assert.ok(op.parameters?.some((x: any) => x.in === 'path' && x.name === param && x.required === true), `${where}: path parameter ${param}`)
    }
  }
  assert.deepEqual(Object.keys(DOC.paths['/api/v1/events'].get.responses['200'].content), ['text/event-stream'])
  assert.deepEqual(Object.keys(DOC.paths['/metrics'].get.responses['200'].content), ['text/plain'])
  assert.deepEqual(DOC.paths['/api/v1/health'].get.security, [], 'health needs no token')
})

test('the response check refuses an undocumented field, a missing field, a wrong type and an undeclared status', () => {
  const good = JSON.stringify({ id: '5a3c1d9e-8f2b-4c6d-9e1f-2a3b4c5d6e7f', groupId: '5a3c1d9e-8f2b-4c6d-9e1f-2a3b4c5d6e7f', deleted: true, updatedAt: '2026-12-01T00:00:00.000Z' })
  const path = '/api/v1/items/5a3c1d9e-8f2b-4c6d-9e1f-2a3b4c5d6e7f'
  checkResponse('DELETE', path, 200, 'application/json; charset=utf-8', good)
  const bad = (body: unknown, status = 200): void => assert.throws(() => checkResponse('DELETE', path, status, 'application/json', JSON.stringify(body)), { name: 'AssertionError' })
  bad({ ...JSON.parse(good), surprise: 1 })
  const { deleted: _d, ...missing } = JSON.parse(good)
  bad(missing)
  bad({ ...JSON.parse(good), deleted: 'yes' })
  bad({ error: { code: 'INTERNAL', message: 'boom' } }, 500)
  bad({ error: { code: 'not snake', message: 'x' } }, 404)
  assert.throws(() => checkResponse('GET', '/api/v1/nowhere', 200, 'application/json', '{}'), { name: 'AssertionError' })
  assert.throws(() => checkResponse('GET', '/metrics', 200, 'application/json', '{}'), { name: 'AssertionError' })
})

test('a tour of every operation through the typed client: each answer matches the document', async () => {
  const seen = new Set<string>()
  const checking = checkingFetch()
  const fetchAndNote: typeof fetch = async (input, init) => {
    const res = await checking(input, init)
    const url = new URL(String(input))
    const op = Object.entries(routes).find(([, r]) => r.method === (init?.method ?? 'GET') && new RegExp('^' + r.path.replace(/:\w+/g, '[^/]+') + '$').test(url.pathname))
    if (op !== undefined) seen.add(op[0])
    return res
  }
  const c = new CairnClient({ baseUrl: `http://127.0.0.1:${n.daemon.apiPort}`, token: n.token, fetch: fetchAndNote })
  const code = async (p: Promise<unknown>): Promise<string> => { try { await p; return 'ok' } catch (e) { assert.ok(e instanceof CairnError, String(e)); return e.code } }
  const keeper = await localNode({ keeper: true })
  try {
    assert.deepEqual(await c.health(), { status: 'ok' })
    const st = await c.getStatus()
    await c.getOpenApi()
    assert.match(await c.getMetrics(), /cairn_records_stored_total/)
    const events = c.events()
    await events.ready()
    const g = await c.createGroup({ name: 'tour', culture: 'chatty' })
    const w = await c.createItem(g.id, { content: 'the tour starts', type: 'note', meta: { k: 'v' } })
    const timer = setTimeout(() => events.close(), 20_000)
    let ev: { groupId?: string } | undefined
    for await (const e of events) if (e.type === 'stored' && e.id === w.id) { ev = e; break }
    clearTimeout(timer)
    assert.equal(ev?.groupId, g.id, 'the write\'s stored event came through the typed event stream')
    assert.equal((await c.listItems(g.id, { limit: 5, type: 'note' })).items.length, 1)
    assert.equal((await c.getItem(w.id)).content, 'the tour starts')
    await c.updateItem(w.id, { content: 'the tour goes on' })
    assert.equal((await c.search('tour goes')).results[0]?.itemId, w.id)
    const copy = await c.shareItem(w.id, st.personalGroupId!)
    assert.equal((await c.deleteItem(copy.id)).deleted, true)
    assert.ok((await c.listRaw(g.id, { limit: 10 })).items.length >= 1)
    const exported = await c.exportItems({ group: g.id })
    let text = ''
    for await (const chunk of exported.body) text += Buffer.from(chunk).toString('utf8')
    const lines = text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { id: string, content: unknown })
    assert.deepEqual(lines.map(l => l.content), ['the tour goes on'], 'the export holds the group\'s one live item')
    const imported = await c.importItems(st.personalGroupId!, lines)
    assert.equal(imported.imported, 1)
    await c.getGroup(g.id)
    await c.listGroups()
    const ks = keeper.daemon.status()
    const tcp = ks.listenAddrs.find(a => a.includes('/tcp/'))!
    const kaddr = tcp.includes('/p2p/') ? tcp : `${tcp}/p2p/${ks.peerId}`
    assert.equal((await c.dialPeer(kaddr)).peers[0]?.peerId, ks.peerId)
    await c.listPeers()
    await c.addKeeper(g.id, { peerId: ks.peerId, multiaddr: kaddr })
    await waitFor('the keeper to hold the group', () => keeper.daemon.services.registry.has(g.id))
    await c.syncGroup(g.id)
    await c.removeKeeper(g.id, ks.peerId)
    const other = entityIdFromPublicKey(generateSigningKey().publicKey)
    await c.addMember(g.id, { entityId: other, role: 'member' })
    const removed = await c.removeMember(g.id, other)
    assert.equal((await c.getJob(removed.jobId)).groupId, g.id)
    const rot = await c.rotateGroup(g.id)
    assert.equal(rot.jobId, rot.id)
    const circle = await c.createGroup({ name: 'tour circle', circle: { threshold: 2, members: [other] } })
    assert.equal(await code(c.unsealCircle(circle.id, { ttlSeconds: 60, waitSeconds: 0 })), 'INSUFFICIENT_SHARES')
    assert.ok(['failed', 'sealed'].includes((await c.unsealProgress(circle.id)).state), 'the ended unseal is shown as failed (or the circle as sealed)')
    assert.equal((await c.cancelUnseal(circle.id)).cancelled, false, 'nothing to cancel once it ended')
    assert.equal((await c.sealCircle(circle.id)).sealed, false)
    assert.equal((await c.setApproval(circle.id, 'manual')).policy, 'manual')
    assert.deepEqual((await c.listShareRequests()).requests, [])
    assert.equal(await code(c.approveShareRequest('no-such-request')), 'NOT_FOUND')
    assert.equal(await code(c.denyShareRequest('no-such-request')), 'NOT_FOUND')
    assert.ok((await c.listAudit({ since: 0, limit: 5 })).entries.length > 0)
    assert.equal((await c.verifyAudit()).ok, true)
    assert.deepEqual(await c.lock(), { unlocked: false })
    assert.equal(await code(c.getItem(w.id)), 'VAULT_LOCKED')
    assert.deepEqual(await c.unlock('test passphrase for cairn'), { unlocked: true })
    const missing = Object.keys(routes).filter(k => !seen.has(k as OperationId))
    assert.deepEqual(missing, [], 'operations the tour did not reach')
  } finally {
    await keeper.stop()
  }
})
