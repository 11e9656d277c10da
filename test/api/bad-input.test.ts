/**
 * Bad input over HTTP (SPEC §7.1): every refusal has the contract's status and
 * error envelope, and none is a 5xx.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { PASSPHRASE, stopAll } from '../helpers/cli.js'
import { assertErrorEnvelope, rawRequest } from '../helpers/http.js'

let n: LocalNode
let gid: string
let itemId: string

before(async () => {
  n = await localNode()
  gid = (await n.ok('POST', '/api/v1/groups', { name: 'bad input tests' })).id
  itemId = (await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'a real item' })).id
})
after(async () => { await n?.stop(); await stopAll() })

const req = (method: string, path: string, o: { body?: string | Uint8Array, headers?: Record<string, string>, token?: string | null } = {}) =>
  rawRequest(n.daemon.apiPort, {
    method, path, ...(o.body !== undefined ? { body: o.body } : {}),
    headers: {
      ...(o.token === null ? {} : { authorization: `Bearer ${o.token ?? n.token}` }),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...o.headers
    }
  })
const json = (method: string, path: string, body: unknown) => req(method, path, { body: JSON.stringify(body) })

test('health needs no token; everything else does: no token → 401 UNAUTHORIZED', async () => {
  const h = await req('GET', '/api/v1/health', { token: null })
  assert.equal(h.status, 200)
  assert.deepEqual(h.json, { status: 'ok' })
  for (const [m, p] of [['GET', '/api/v1/status'], ['GET', '/api/v1/groups'], ['POST', `/api/v1/groups/${gid}/items`], ['GET', `/api/v1/items/${itemId}`], ['GET', '/metrics'], ['GET', '/api/v1/openapi.json'], ['GET', '/api/v1/nope']] as const) {
    assertErrorEnvelope(await req(m, p, { token: null, ...(m === 'POST' ? { body: '{"content":"x"}' } : {}) }), 401, 'UNAUTHORIZED')
  }
})

test('a wrong token, a token in the wrong scheme, or a padded token → 401 UNAUTHORIZED', async () => {
  for (const authorization of [`Bearer ${'0'.repeat(64)}`, `Bearer ${n.token.slice(0, -1)}`, `Bearer ${n.token}x`, `Basic ${n.token}`, n.token, 'Bearer', `Bearer ${n.token} extra`]) {
    assertErrorEnvelope(await req('GET', '/api/v1/status', { token: null, headers: { authorization } }), 401, 'UNAUTHORIZED')
  }
  assert.equal((await req('GET', '/api/v1/status')).status, 200)
})

test('a foreign Host header is refused with 403 HOST_NOT_ALLOWED (DNS rebinding), even on health', async () => {
  for (const host of ['evil.example', 'evil.example:9473', '127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.1', '[::2]', '0.0.0.0', '']) {
    assertErrorEnvelope(await req('GET', '/api/v1/status', { headers: { host } }), 403, 'HOST_NOT_ALLOWED')
    assertErrorEnvelope(await req('GET', '/api/v1/health', { token: null, headers: { host } }), 403, 'HOST_NOT_ALLOWED')
  }
  for (const host of ['localhost', `localhost:${n.daemon.apiPort}`, `127.0.0.1:${n.daemon.apiPort}`, '[::1]', `[::1]:${n.daemon.apiPort}`, 'LOCALHOST']) {
    assert.equal((await req('GET', '/api/v1/status', { headers: { host } })).status, 200, host)
  }
})

test('malformed JSON → 400 INVALID_INPUT', async () => {
  for (const body of ['{"content":', '{content: "x"}', "{'content':'x'}", 'not json', '{"content":"x"}}', '\u0000', '{"__proto__":{"x":1},"content":"x"}']) {
    assertErrorEnvelope(await req('POST', `/api/v1/groups/${gid}/items`, { body }), 400, 'INVALID_INPUT')
  }
})

test('wrong types and missing fields → 400 INVALID_INPUT', async () => {
  const cases: Array<[string, string, unknown]> = [
    ['POST', `/api/v1/groups/${gid}/items`, {}],
    ['POST', `/api/v1/groups/${gid}/items`, { content: 'x', type: 5 }],
    ['POST', `/api/v1/groups/${gid}/items`, { content: 'x', type: '' }],
    ['POST', `/api/v1/groups/${gid}/items`, { content: 'x', meta: 'not an object' }],
    ['POST', `/api/v1/groups/${gid}/items`, { content: 'x', meta: [1, 2] }],
    ['POST', `/api/v1/groups/${gid}/items`, [1, 2, 3]],
    ['POST', `/api/v1/groups/${gid}/items`, 'just a string'],
    ['POST', `/api/v1/groups/${gid}/items`, null],
    ['PUT', `/api/v1/items/${itemId}`, { meta: {} }],
    ['POST', '/api/v1/groups', {}],
    ['POST', '/api/v1/groups', { name: 5 }],
    ['POST', '/api/v1/groups', { name: '' }],
    ['POST', '/api/v1/groups', { name: 'x', culture: 'loud' }],
    ['POST', '/api/v1/groups', { name: 'x', appendOnly: 'yes' }],
    ['POST', '/api/v1/groups', { name: 'x'.repeat(201) }],
    ['POST', `/api/v1/groups/${gid}/members`, { entityId: 'cairn1notanentity', role: 'member' }],
    ['POST', `/api/v1/groups/${gid}/members`, { entityId: 42 }],
    ['POST', `/api/v1/groups/${gid}/members`, { entityId: n.entityId, role: 'god' }],
    ['POST', `/api/v1/groups/${gid}/keepers`, { peerId: 'not-a-peer-id' }],
    ['POST', '/api/v1/unlock', {}],
    ['POST', '/api/v1/unlock', { passphrase: 12345678 }],
    ['POST', '/api/v1/lock', { unexpected: true }]
  ]
  for (const [m, p, body] of cases) {
    const r = await json(m, p, body)
    assertErrorEnvelope(r, 400, 'INVALID_INPUT')
  }
})

test('bad query parameters → 400 INVALID_INPUT', async () => {
  for (const q of ['limit=abc', 'limit=0', 'limit=100000', 'limit=-1', 'limit=1.5', 'cursor=garbage', 'cursor=', 'limit=1&limit=2']) {
    assertErrorEnvelope(await req('GET', `/api/v1/groups/${gid}/items?${q}`), 400, 'INVALID_INPUT')
  }
  for (const q of ['', 'q=', 'q=%20%20', 'q=!!!', 'q=x&limit=0']) {
    assertErrorEnvelope(await req('GET', `/api/v1/search?${q}`), 400, 'INVALID_INPUT')
  }
})

test('an oversized request body → 413 TOO_LARGE; an item over limits.max_item_bytes → 413 TOO_LARGE', async () => {
  const huge = JSON.stringify({ content: 'x'.repeat(3 * 1024 * 1024) })
  assertErrorEnvelope(await req('POST', `/api/v1/groups/${gid}/items`, { body: huge }), 413, 'TOO_LARGE')
  const big = JSON.stringify({ content: 'y'.repeat(1024 * 1024 + 10) }) // under the 2 MiB body limit, over the 1 MiB item limit
  assertErrorEnvelope(await req('POST', `/api/v1/groups/${gid}/items`, { body: big }), 413, 'TOO_LARGE')
  assertErrorEnvelope(await req('PUT', `/api/v1/items/${itemId}`, { body: big }), 413, 'TOO_LARGE')
  // the item is unchanged
  assert.equal((await n.ok('GET', `/api/v1/items/${itemId}`)).content, 'a real item')
})

test('unknown group, item, job or route → 404 NOT_FOUND', async () => {
  const unknownGroup = randomUUID()
  const unknownItem = randomUUID()
  const cases: Array<[string, string, unknown?]> = [
    ['GET', `/api/v1/groups/${unknownGroup}`],
    ['GET', `/api/v1/groups/${unknownGroup}/items`],
    ['POST', `/api/v1/groups/${unknownGroup}/items`, { content: 'x' }],
    ['GET', `/api/v1/groups/${unknownGroup}/raw`],
    ['POST', `/api/v1/groups/${unknownGroup}/rotate`],
    ['POST', `/api/v1/groups/${unknownGroup}/members`, { entityId: n.entityId, role: 'member' }],
    ['GET', '/api/v1/groups/not-a-uuid'],
    ['GET', '/api/v1/groups/not-a-uuid/items'],
    ['GET', `/api/v1/items/${unknownItem}`],
    ['PUT', `/api/v1/items/${unknownItem}`, { content: 'x' }],
    ['DELETE', `/api/v1/items/${unknownItem}`],
    ['GET', '/api/v1/items/not-a-uuid'],
    ['GET', `/api/v1/items/${gid}`], // a group ID is not an item
    ['GET', `/api/v1/jobs/${randomUUID()}`],
    ['GET', '/api/v1/no-such-route'],
    ['PATCH', `/api/v1/items/${itemId}`, { content: 'x' }],
    ['DELETE', `/api/v1/groups/${gid}/members/${entityIdFromPublicKey(generateSigningKey().publicKey)}`]
  ]
  for (const [m, p, body] of cases) {
    const r = body === undefined ? await req(m, p) : await json(m, p, body)
    assertErrorEnvelope(r, 404, 'NOT_FOUND')
  }
})

test('a deleted item reads as 404 and cannot be updated or deleted again', async () => {
  const id = (await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'to delete' })).id
  assert.equal((await req('DELETE', `/api/v1/items/${id}`)).status, 200)
  assertErrorEnvelope(await req('GET', `/api/v1/items/${id}`), 404, 'NOT_FOUND')
  assertErrorEnvelope(await json('PUT', `/api/v1/items/${id}`, { content: 'zombie' }), 404, 'NOT_FOUND')
  assertErrorEnvelope(await req('DELETE', `/api/v1/items/${id}`), 404, 'NOT_FOUND')
})

test('wrong passphrase on /unlock → 401 BAD_PASSPHRASE; a locked vault → 423 VAULT_LOCKED on item and group routes', async () => {
  assert.equal((await req('POST', '/api/v1/lock')).status, 200)
  try {
    const st = await n.ok('GET', '/api/v1/status')
    assert.equal(st.unlocked, false)
    assertErrorEnvelope(await json('POST', '/api/v1/unlock', { passphrase: 'not the passphrase' }), 401, 'BAD_PASSPHRASE')
    assertErrorEnvelope(await json('POST', '/api/v1/unlock', { passphrase: PASSPHRASE + ' ' }), 401, 'BAD_PASSPHRASE')
    const locked: Array<[string, string, unknown?]> = [
      ['POST', `/api/v1/groups/${gid}/items`, { content: 'while locked' }],
      ['GET', `/api/v1/groups/${gid}/items`],
      ['GET', `/api/v1/items/${itemId}`],
      ['PUT', `/api/v1/items/${itemId}`, { content: 'while locked' }],
      ['DELETE', `/api/v1/items/${itemId}`],
      ['GET', `/api/v1/groups/${gid}/raw`],
      ['POST', '/api/v1/groups', { name: 'while locked' }],
      ['POST', `/api/v1/groups/${gid}/rotate`],
      ['GET', '/api/v1/search?q=real']
    ]
    for (const [m, p, body] of locked) {
      const r = body === undefined ? await req(m, p) : await json(m, p, body)
      assertErrorEnvelope(r, 423, 'VAULT_LOCKED')
    }
  } finally {
    const u = await json('POST', '/api/v1/unlock', { passphrase: PASSPHRASE })
    assert.equal(u.status, 200)
    assert.deepEqual(u.json, { unlocked: true })
  }
  // nothing written or deleted while locked
  assert.equal((await n.ok('GET', `/api/v1/items/${itemId}`)).content, 'a real item')
  const list = await n.ok('GET', `/api/v1/groups/${gid}/items?limit=1000`)
  assert.ok(!list.items.some((i: any) => i.content === 'while locked'))
})

test('a wrong passphrase on /unlock is 401 BAD_PASSPHRASE even while the vault is already unlocked', async () => {
  assert.equal((await n.ok('GET', '/api/v1/status')).unlocked, true)
  assertErrorEnvelope(await json('POST', '/api/v1/unlock', { passphrase: 'not the passphrase' }), 401, 'BAD_PASSPHRASE')
})

test('error responses are JSON with the envelope for every status the API uses', async () => {
  const r = await req('GET', '/api/v1/nope')
  assert.match(String(r.headers['content-type']), /application\/json/)
  assertErrorEnvelope(r, 404, 'NOT_FOUND')
})
