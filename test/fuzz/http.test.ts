/**
 * Property-based fuzz of the HTTP API, generated from the node's own OpenAPI
 * document (GET /api/v1/openapi.json): for every operation it declares,
 * requests with valid and invalid path parameters, query parameters and
 * bodies (from the declared schemas), plus transport-level oddities (HEAD,
 * unknown methods, a bad token or Host, malformed escapes, a huge URL, odd
 * content types). Properties: never a 5xx (but the contract's 503s), the
 * error envelope on every 4xx, no body on HEAD; beside the run, a health
 * probe answers throughout (slowest answer recorded) and the daemon's RSS
 * stays bounded. Seeded (see test/helpers/fuzz.ts).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { initNodeDir, startNode, stopAll, type NodeProcess } from '../helpers/cli.js'
import { rawRequest, type RawRequest, type RawResponse } from '../helpers/http.js'
import { FUZZ_SCALE, FUZZ_SEED, healthProbe, replay, rssOf } from '../helpers/fuzz.js'
import { bodyText, invalid, valid, type Schema } from '../helpers/schema-arbitrary.js'

const RUNS = 700 * FUZZ_SCALE
/** Not fuzzed: the event stream never ends by design, shutdown and lock would end the run's reach. */
const SKIP = new Set(['GET /api/v1/events', 'POST /api/v1/shutdown', 'POST /api/v1/lock'])
/** The contract's own 503s: not enough peers or shares is an answer, not a fault. */
const CONTRACT_503 = new Set(['NO_PEERS', 'INSUFFICIENT_SHARES', 'BAD_SHARE', 'UNAVAILABLE'])

let node: NodeProcess
let doc: any
let sentinel: string
let sentinelGroup: string
const pool = { gid: [] as string[], iid: [] as string[], eid: [] as string[], jid: [] as string[], peer: [] as string[] }

before(async () => {
  const info = initNodeDir()
  node = await startNode(info.dataDir)
  sentinelGroup = (await node.ok('POST', '/api/v1/groups', { name: 'fuzz sentinel' })).id
  sentinel = (await node.ok('POST', `/api/v1/groups/${sentinelGroup}/items`, { content: 'sentinel', meta: { keep: true } })).id
  for (const name of ['fuzz a', 'fuzz b']) pool.gid.push((await node.ok('POST', '/api/v1/groups', { name })).id)
  for (let i = 0; i < 4; i++) pool.iid.push((await node.ok('POST', `/api/v1/groups/${pool.gid[i % 2]}/items`, { content: `fuzz seed item ${i}` })).id)
  pool.eid.push(info.entityId!, entityIdFromPublicKey(generateSigningKey().publicKey))
  pool.jid.push((await node.ok('POST', `/api/v1/groups/${pool.gid[0]}/rotate`)).jobId)
  pool.peer.push(node.peerId, '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
  doc = await node.ok('GET', '/api/v1/openapi.json')
})
after(async () => { await node?.stop(); await stopAll() })

const garbageSegment = fc.oneof(
  fc.uuid().map(String), fc.constant(randomUUID()), fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom('..', '%', '%Y', '%zz', '%E9', '%C0%AF', '%00', '%2F', 'a%2e%2e', 'x'.repeat(250), '12D3KooW', 'cairn1'))
/** Realistic values by parameter or property name: half the draws reach past the 404s. */
function byName (name: string): fc.Arbitrary<unknown> | undefined {
  const from = (xs: string[]): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...xs) }, { weight: 1, arbitrary: garbageSegment })
  switch (name) {
    case 'gid': case 'toGroup': case 'group': return from(pool.gid)
    case 'id': return from(pool.iid)
    case 'entityId': return from(pool.eid)
    case 'peerId': return from(pool.peer)
    case 'jobId': return from(pool.jid)
    case 'members': return fc.array(fc.constantFrom(...pool.eid), { minLength: 1, maxLength: 3 })
    case 'multiaddr': return fc.constantFrom('/ip4/127.0.0.1/tcp/1', `/ip4/127.0.0.1/tcp/1/p2p/${pool.peer[1]}`, '/nonsense', 'x', '/ip4/999.1.1.1/tcp/1')
    case 'q': return fc.oneof(fc.constantFrom('fuzz', 'seed item', 'sentinel', '0'), fc.string({ maxLength: 40 }))
    case 'cursor': return fc.oneof(fc.constant(Buffer.from(`${Date.now()}:${randomUUID()}`).toString('base64url')), fc.string({ maxLength: 40 }))
    default: return undefined
  }
}

interface Op { method: string, path: string, params: Array<{ name: string, in: string, schema?: Schema }>, body?: Schema }

function operations (): Op[] {
  const ops: Op[] = []
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [m, op] of Object.entries(item)) {
      const method = m.toUpperCase()
      if (!['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].includes(method) || SKIP.has(`${method} ${path}`)) continue
      ops.push({ method, path, params: op.parameters ?? [], body: op.requestBody?.content?.['application/json']?.schema })
    }
  }
  return ops
}

const hints = { forName: byName, ref: (r: string) => r.split('/').slice(1).reduce((o: any, k) => o?.[k], doc) as Schema | undefined }

function requestFor (op: Op, port: number, token: string): fc.Arbitrary<RawRequest> {
  const pathArbs = op.params.filter(p => p.in === 'path').map(p => fc.oneof({ weight: 3, arbitrary: (byName(p.name) ?? garbageSegment).map(String) }, { weight: 1, arbitrary: garbageSegment }).map(v => [p.name, encodeSegment(v)] as const))
  const queryArbs = op.params.filter(p => p.in === 'query').map(p => fc.option(fc.oneof(
    valid(p.schema, hints, p.name).map(String),
    fc.constantFrom('', '-1', '0', '1e3', '99999999999', 'abc', '%', '1.5')
  ), { nil: undefined }).map(v => [p.name, v] as const))
  const body = op.body === undefined
    ? fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('{}', '{"unexpected":true}', 'null', '[]', '{"a":') })
    : fc.oneof({ weight: 3, arbitrary: valid(op.body, hints).map(bodyText) }, { weight: 2, arbitrary: invalid(op.body, hints).map(bodyText) })
  const transport = fc.record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom('HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'PUT') }),
    auth: fc.oneof({ weight: 14, arbitrary: fc.constant(`Bearer ${token}`) }, { weight: 1, arbitrary: fc.constantFrom('', 'Bearer ', `Bearer ${token}x`, `Basic ${token}`, 'Bearer \u00e9') }),
    host: fc.oneof({ weight: 14, arbitrary: fc.constantFrom(`127.0.0.1:${port}`, 'localhost', `[::1]:${port}`) }, { weight: 1, arbitrary: fc.constantFrom('evil.example', 'localhost.evil', '127.0.0.2', '') }),
    contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/octet-stream', '') }),
    longUrl: fc.oneof({ weight: 40, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 9_000, max: 70_000 }) })
  })
  return fc.tuple(fc.tuple(...pathArbs), fc.tuple(...queryArbs), body, transport).map(([ps, qs, b, t]) => {
    let path = op.path
    for (const [name, v] of ps) path = path.replace(`{${name}}`, v)
    const q = qs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    if (t.longUrl !== undefined) q.push(`pad=${'a'.repeat(t.longUrl)}`)
    if (q.length > 0) path += '?' + q.join('&')
    const headers: Record<string, string> = { host: t.host }
    if (t.auth !== '') headers.authorization = t.auth
    if (b !== undefined && t.contentType !== '') headers['content-type'] = t.contentType
    return { method: t.method, path, headers, ...(b !== undefined && t.method !== 'GET' && t.method !== 'HEAD' ? { body: b } : {}), timeoutMs: 30_000 }
  })
}

/** Path segments go out as drawn when they are already escapes (a malformed one is the point). */
const encodeSegment = (v: string): string => /%/.test(v) ? v : encodeURIComponent(v)

function check (req: RawRequest, res: RawResponse): string | undefined {
  const code = res.json?.error?.code
  if (res.status >= 500 && !(res.status === 503 && CONTRACT_503.has(code)) && res.status !== 507) return `${res.status}: ${res.text.slice(0, 200)}`
  if (req.method === 'HEAD') return res.text === '' ? undefined : `HEAD answered with a body: ${res.text.slice(0, 100)}`
  if (res.status >= 400) {
    const e = res.json?.error
    if (e === null || typeof e !== 'object' || typeof e.code !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(e.code) || typeof e.message !== 'string' || e.message === '') return `not the error envelope: ${res.status} ${res.text.slice(0, 200)}`
  }
  return undefined
}

test(`HTTP fuzz from the OpenAPI document: no 5xx, the envelope on every 4xx, health answers, RSS bounded (${replay})`, { timeout: 900_000 }, async (t) => {
  const ops = operations()
  assert.ok(ops.length >= 25, `the document declares only ${ops.length} operations`)
  const port = node.apiPort
  const arb = fc.oneof(...ops.map(op => requestFor(op, port, node.token)))
  const pid = node.proc.pid!
  const rssBefore = rssOf(pid)
  const statuses = new Map<number, number>()
  const perOp = new Map<string, number>()
  let tried = 0
  let fivexx = 0
  let nonEnvelope = 0
  const probe = healthProbe(port)
  try {
    await fc.assert(fc.asyncProperty(arb, async (req) => {
      tried++
      let res: RawResponse
      try { res = await rawRequest(port, req) } catch (e) { throw new Error(`${req.method} ${req.path.slice(0, 200)}: no answer (${(e as Error).message}); ${replay}`) }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      const key = `${req.method} ${req.path.split('?')[0]!.replace(/[0-9a-f-]{36}/g, '{id}').slice(0, 80)}`
      perOp.set(key, (perOp.get(key) ?? 0) + 1)
      const why = check(req, res)
      if (why !== undefined) {
        if (res.status >= 500) fivexx++; else nonEnvelope++
        throw new Error(`${req.method} ${req.path.slice(0, 300)} body=${JSON.stringify(req.body?.toString().slice(0, 200))} → ${why}; ${replay}`)
      }
    }), { seed: FUZZ_SEED, numRuns: RUNS, endOnFailure: true })
  } finally {
    const p = await probe.stop()
    const rssAfter = rssOf(pid)
    t.diagnostic(`requests tried ${tried}, 5xx ${fivexx}, non-envelope 4xx ${nonEnvelope}, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`)
    t.diagnostic(`health probes ${p.probes}, slowest ${p.worstMs} ms, failures ${p.failures.length}; daemon RSS ${rssBefore.rss} → ${rssAfter.rss} MiB (peak ${rssAfter.peak} MiB); ${replay}`)
    assert.deepEqual(p.failures, [], 'health answered throughout')
    assert.ok(p.worstMs < 10_000, `health took ${p.worstMs} ms at worst`)
    assert.ok(rssAfter.rss < rssBefore.rss + 400, `RSS ${rssBefore.rss} → ${rssAfter.rss} MiB`)
  }
  // The fuzz reached past the front door: successes and schema refusals both.
  assert.ok((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > RUNS / 20, `too few successes: ${JSON.stringify([...statuses])}`)
  assert.ok((statuses.get(400) ?? 0) > RUNS / 20, `too few 400s: ${JSON.stringify([...statuses])}`)
  // and the node still works
  assert.deepEqual((await rawRequest(port, { method: 'GET', path: '/api/v1/health' })).json, { status: 'ok' })
  assert.equal((await node.ok('GET', `/api/v1/items/${sentinel}`)).content, 'sentinel')
  assert.equal((await node.api('POST', `/api/v1/groups/${sentinelGroup}/items`, { content: 'after the fuzz' })).status, 201)
  assert.equal((await node.ok('GET', '/api/v1/audit/verify')).ok, true)
})
