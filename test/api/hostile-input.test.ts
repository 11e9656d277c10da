/**
 * Regression tests for the faults of issue 12 that a hostile local client can
 * cause over HTTP: deep nesting (500), errors raised before routing (not the
 * envelope, HEAD answers with a body), one search that freezes the daemon.
 * Each one failed on main before the fix.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll } from '../helpers/cli.js'
import { assertErrorEnvelope, rawRequest } from '../helpers/http.js'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'

let n: LocalNode
let gid: string
let itemId: string

before(async () => {
  n = await localNode()
  gid = (await n.ok('POST', '/api/v1/groups', { name: 'hostile input' })).id
  itemId = (await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: 'the original' })).id
})
after(async () => { await n?.stop(); await stopAll() })

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
const auth = (): Record<string, string> => ({ authorization: `Bearer ${n.token}`, 'content-type': 'application/json' })

test('content nested 5,000 levels deep → 400 INVALID_INPUT on POST and PUT, nothing stored, item unchanged', async () => {
  const before = (await n.ok('GET', `/api/v1/groups/${gid}/items?limit=1000`)).items.length
  for (const depth of [5000, 200]) {
    const body = `{"content":${nested(depth)}}`
    assertErrorEnvelope(await rawRequest(n.daemon.apiPort, { method: 'POST', path: `/api/v1/groups/${gid}/items`, headers: auth(), body }), 400, 'INVALID_INPUT')
    assertErrorEnvelope(await rawRequest(n.daemon.apiPort, { method: 'PUT', path: `/api/v1/items/${itemId}`, headers: auth(), body }), 400, 'INVALID_INPUT')
    const meta = `{"content":"x","meta":{"m":${nested(depth)}}}`
    assertErrorEnvelope(await rawRequest(n.daemon.apiPort, { method: 'POST', path: `/api/v1/groups/${gid}/items`, headers: auth(), body: meta }), 400, 'INVALID_INPUT')
  }
  // deep bodies on other routes are refused the same way, before any handler
  assertErrorEnvelope(await rawRequest(n.daemon.apiPort, { method: 'POST', path: '/api/v1/groups', headers: auth(), body: `{"name":"g","x":${nested(5000)}}` }), 400, 'INVALID_INPUT')
  assert.equal((await n.ok('GET', `/api/v1/items/${itemId}`)).content, 'the original')
  assert.equal((await n.ok('GET', `/api/v1/groups/${gid}/items?limit=1000`)).items.length, before)
  // a reasonably nested document is still fine
  const ok = await n.api('POST', `/api/v1/groups/${gid}/items`, { content: JSON.parse(nested(50)) })
  assert.equal(ok.status, 201, ok.text)
})

/** Write bytes on a raw socket and read everything until the server closes. */
function rawExchange (port: number, bytes: Buffer | string, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const t = setTimeout(() => { s.destroy(); reject(new Error('no answer within the timeout')) }, timeoutMs)
    s.on('connect', () => s.write(bytes))
    s.on('data', c => chunks.push(c))
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(t); resolve(Buffer.concat(chunks)) })
  })
}

function splitResponse (raw: Buffer): { status: number, headers: Record<string, string>, body: string } {
  const text = raw.toString('latin1')
  const end = text.indexOf('\r\n\r\n')
  assert.ok(end > 0, `no HTTP response: ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim() }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(end + 4) }
}

const envelopeOf = (r: { status: number, body: string }): { status: number, json: any, text: string } => {
  let json: any
  try { json = JSON.parse(r.body) } catch { json = undefined }
  return { status: r.status, json, text: r.body }
}

test('a 20 KB URL → 431 with the error envelope', async () => {
  const r = splitResponse(await rawExchange(n.daemon.apiPort, `GET /api/v1/status?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`))
  assertErrorEnvelope(envelopeOf(r), 431, 'HEADERS_TOO_LARGE')
  assert.match(r.headers['content-type'] ?? '', /application\/json/)
})

test('raw 0xff bytes in the request line → 400 INVALID_INPUT with the error envelope', async () => {
  const bytes = Buffer.concat([Buffer.from('GET /api/v1/'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')])
  assertErrorEnvelope(envelopeOf(splitResponse(await rawExchange(n.daemon.apiPort, bytes))), 400, 'INVALID_INPUT')
  const junk = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0d, 0x0a, 0x0d, 0x0a])
  assertErrorEnvelope(envelopeOf(splitResponse(await rawExchange(n.daemon.apiPort, junk))), 400, 'INVALID_INPUT')
})

test('HEAD answers carry no body, refused or not', async () => {
  const heads: Array<[string, Record<string, string>, number]> = [
    ['/api/v1/status', {}, 401], // no token
    ['/api/v1/status', { Authorization: `Bearer ${n.token}` }, 200],
    ['/api/v1/nope', { Authorization: `Bearer ${n.token}` }, 404],
    ['/api/v1/groups/%Y/items', { Authorization: `Bearer ${n.token}` }, 400], // raised before routing
    ['/api/v1/health', { Host: 'evil.example' }, 403],
    [`/api/v1/status?q=${'a'.repeat(20_000)}`, {}, 431]
  ]
  for (const [path, headers, status] of heads) {
    const h = { Host: '127.0.0.1', Connection: 'close', ...headers }
    const req = `HEAD ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`
    const r = splitResponse(await rawExchange(n.daemon.apiPort, req))
    assert.equal(r.status, status, `HEAD ${path.slice(0, 60)}`)
    assert.equal(r.body, '', `HEAD ${path.slice(0, 60)} → ${status} has a body: ${JSON.stringify(r.body.slice(0, 100))}`)
  }
})

test('a search over a 440 KB item of one repeated word does not stall other requests (health answers promptly)', async (t) => {
  const word = 'hammer'
  const id = (await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: (word + ' ').repeat(63_000) })).id
  const arr = (await n.ok('POST', `/api/v1/groups/${gid}/items`, { content: Array.from({ length: 200_000 }, () => 0) })).id
  let worst = 0
  let searching = true
  const probe = (async () => {
    while (searching) {
      const t0 = performance.now()
      const h = await rawRequest(n.daemon.apiPort, { method: 'GET', path: '/api/v1/health', timeoutMs: 120_000 })
      assert.equal(h.status, 200)
      worst = Math.max(worst, performance.now() - t0)
      await new Promise(r => setTimeout(r, 20))
    }
  })()
  const t0 = performance.now()
  const [a, b] = await Promise.all([n.api('GET', `/api/v1/search?q=${word}`), n.api('GET', '/api/v1/search?q=0')])
  const took = performance.now() - t0
  searching = false
  await probe
  t.diagnostic(`two searches over a 440 KB item and a 200k-element item: ${Math.round(took)} ms; longest health answer meanwhile ${Math.round(worst)} ms`)
  assert.equal(a.status, 200, a.text)
  assert.equal(b.status, 200, b.text)
  assert.ok(a.json.results.some((h: { itemId: string }) => h.itemId === id), 'the big item is found')
  assert.ok(b.json.results.some((h: { itemId: string }) => h.itemId === arr), 'the big array item is found')
  for (const h of [...a.json.results, ...b.json.results]) assert.ok(h.snippet.length < 1000, `snippet of ${h.snippet.length} characters`)
  // generous ceilings for a shared machine; main took ~11 s per search and health waited as long
  assert.ok(worst < 3000, `health took ${Math.round(worst)} ms during the searches`)
  assert.ok(took < 20_000, `the searches took ${Math.round(took)} ms`)
})

test('a malformed URL escape or an over-long path segment gets the error envelope (and the Host/token checks still apply)', async () => {
  const port = n.daemon.apiPort
  const a = { authorization: `Bearer ${n.token}` }
  assertErrorEnvelope(await rawRequest(port, { method: 'GET', path: '/api/v1/groups/%Y/items', headers: a }), 400, 'INVALID_INPUT')
  const long = await rawRequest(port, { method: 'GET', path: `/api/v1/items/${'x'.repeat(300)}`, headers: a })
  assert.ok(long.status === 404 || long.status === 400 || long.status === 414, String(long.status))
  assertErrorEnvelope(long, long.status)
  assertErrorEnvelope(await rawRequest(port, { method: 'GET', path: '/api/v1/groups/%Y/items', headers: { ...a, host: 'evil.example' } }), 403, 'HOST_NOT_ALLOWED')
  assertErrorEnvelope(await rawRequest(port, { method: 'GET', path: '/api/v1/groups/%Y/items' }), 401, 'UNAUTHORIZED')
})

test('removing yourself from a group that has another owner → 409 CONFLICT, not a 500 (found by the HTTP fuzz)', async () => {
  const g = (await n.ok('POST', '/api/v1/groups', { name: 'self removal' })).id
  const other = entityIdFromPublicKey(generateSigningKey().publicKey)
  assert.equal((await n.api('POST', `/api/v1/groups/${g}/members`, { entityId: other, role: 'owner' })).status, 201)
  assertErrorEnvelope(await n.api('DELETE', `/api/v1/groups/${g}/members/${n.entityId}`), 409, 'CONFLICT')
  assert.equal((await n.ok('GET', `/api/v1/groups/${g}`)).members.length, 2)
})
