/**
 * Fuzz: 1,000 randomly generated requests — random methods, real route shapes
 * with random segments, random query strings, JSON and non-JSON bodies, random
 * headers — never get a 5xx, every refusal has the error envelope, and the
 * daemon answers afterwards. Seeded: rerun a failure with CAIRN_FUZZ_SEED=<seed>.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll } from '../helpers/cli.js'
import { assertErrorEnvelope, rawRequest, type RawRequest } from '../helpers/http.js'

const SEED = process.env.CAIRN_FUZZ_SEED !== undefined ? Number(process.env.CAIRN_FUZZ_SEED) : (Math.random() * 2 ** 32) >>> 0
const RUNS = 1000

/** mulberry32: small, seedable, good enough to pick test inputs. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

let n: LocalNode
let sentinel: string
const pool = { gid: [] as string[], iid: [] as string[], eid: [] as string[], jid: [] as string[] }

before(async () => {
  n = await localNode()
  const g = await n.ok('POST', '/api/v1/groups', { name: 'fuzz group' })
  pool.gid.push(g.id, n.personalGroupId!)
  for (let i = 0; i < 3; i++) pool.iid.push((await n.ok('POST', `/api/v1/groups/${g.id}/items`, { content: `fuzz seed item ${i}` })).id)
  pool.eid.push(n.entityId!, entityIdFromPublicKey(generateSigningKey().publicKey))
  pool.jid.push((await n.ok('POST', `/api/v1/groups/${g.id}/rotate`)).jobId)
  sentinel = (await n.ok('POST', `/api/v1/groups/${n.personalGroupId}/items`, { content: 'sentinel', meta: { keep: true } })).id
})
after(async () => { await n?.stop(); await stopAll() })

function generator (rnd: () => number, port: number, token: string) {
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const chance = (p: number): boolean => rnd() < p
  const CHARS = 'abcXYZ019-_.~%/?#&=+:;@!$\'()*,[]{} \\"\u00e9\u4e2d\u{1F600}\u0000\n'
  const str = (max: number): string => Array.from({ length: int(0, max) }, () => pick([...CHARS])).join('')
  const segment = (kind: keyof typeof pool | 'peer'): string => {
    const r = rnd()
    if (kind !== 'peer' && r < 0.45 && pool[kind].length > 0) return pick(pool[kind])
    if (r < 0.6) return randomUUID()
    if (r < 0.7) return 'x'.repeat(int(150, 400))
    if (r < 0.75) return '..'
    if (r < 0.8) return entityIdFromPublicKey(generateSigningKey().publicKey)
    if (r < 0.85) return '12D3KooW' + encodeURIComponent(str(20))
    if (r < 0.9) return pick(['%', '%Y', '%zz', '%E9', '%C0%AF', '%00', '%2F', 'a%2e%2e']) // malformed and tricky escapes
    return encodeURIComponent(str(30))
  }
  const shapes: Array<() => string> = [
    () => '/api/v1/health', () => '/api/v1/status', () => '/api/v1/unlock', () => '/api/v1/peers',
    () => '/api/v1/groups', () => `/api/v1/groups/${segment('gid')}`, () => `/api/v1/groups/${segment('gid')}/members`,
    () => `/api/v1/groups/${segment('gid')}/members/${segment('eid')}`, () => `/api/v1/groups/${segment('gid')}/keepers`,
    () => `/api/v1/groups/${segment('gid')}/keepers/${segment('peer')}`, () => `/api/v1/groups/${segment('gid')}/rotate`,
    () => `/api/v1/groups/${segment('gid')}/sync`, () => `/api/v1/groups/${segment('gid')}/items`, () => `/api/v1/groups/${segment('gid')}/raw`,
    () => `/api/v1/groups/${segment('gid')}/unseal`, () => `/api/v1/items/${segment('iid')}`, () => `/api/v1/items/${segment('iid')}/share`,
    () => `/api/v1/jobs/${segment('jid')}`, () => '/api/v1/search', () => '/api/v1/audit', () => '/api/v1/audit/verify',
    () => '/metrics', () => '/api/v1/openapi.json', () => '/api/v1/share-requests',
    () => '/' + Array.from({ length: int(0, 5) }, () => encodeURIComponent(str(12))).join('/'),
    () => '/api/v1/' + encodeURIComponent(str(20)), () => '/api/v1/groups/' + segment('gid') + '/' + encodeURIComponent(str(10))
  ]
  const query = (): string => {
    if (chance(0.5)) return ''
    const keys = ['limit', 'cursor', 'type', 'q', 'group', 'since', encodeURIComponent(str(5))]
    const vals = (): string => pick([String(int(-5, 5000)), encodeURIComponent(str(40)), '', 'abc', '1e3', Buffer.from(`${int(0, 2 ** 40)}:${randomUUID()}`).toString('base64url'), pick(pool.gid)])
    return '?' + Array.from({ length: int(1, 4) }, () => `${pick(keys)}=${vals()}`).join('&')
  }
  const json = (depth: number): unknown => {
    const r = rnd()
    if (depth <= 0 || r < 0.3) return pick([null, true, false, int(-1e6, 1e6), rnd() * 1e308, -0, 2 ** 60, str(30), '', 'x'.repeat(int(0, 5000))])
    if (r < 0.6) return Array.from({ length: int(0, 5) }, () => json(depth - 1))
    const o: Record<string, unknown> = {}
    for (let i = int(0, 5); i > 0; i--) o[pick(['content', 'type', 'meta', 'name', 'culture', 'appendOnly', 'entityId', 'role', 'peerId', 'multiaddr', 'passphrase', 'toGroup', 'ttlSeconds', 'circle', 'threshold', 'members', str(6)])] = json(depth - 1)
    return o
  }
  const body = (): string | Uint8Array | undefined => {
    const r = rnd()
    if (r < 0.15) return undefined
    if (r < 0.55) return JSON.stringify(json(4))
    if (r < 0.7) { // well-shaped bodies with random values: reach the handlers
      return JSON.stringify(pick([
        () => ({ content: json(3), ...(chance(0.5) ? { type: json(1) } : {}), ...(chance(0.5) ? { meta: json(2) } : {}) }),
        () => ({ content: str(50), type: str(10) || 'note', meta: { k: str(10) } }),
        () => ({ name: json(1), ...(chance(0.3) ? { culture: pick(['chatty', 'taciturn', str(5)]) } : {}), ...(chance(0.2) ? { appendOnly: json(0) } : {}) }),
        () => ({ name: str(30) || 'g', ...(chance(0.3) ? { circle: { threshold: int(0, 4), members: [pick(pool.eid)] } } : {}) }),
        () => ({ entityId: pick([...pool.eid, str(60)]), role: pick(['owner', 'admin', 'member', 'viewer', str(5)]) }),
        () => ({ passphrase: json(0) }),
        () => ({ toGroup: pick([...pool.gid, str(36)]) }),
        () => ({ peerId: '12D3KooW' + str(40), multiaddr: '/ip4/127.0.0.1/tcp/' + int(0, 70000) }),
        () => ({ multiaddr: pick(['/ip4/127.0.0.1/tcp/1', str(30)]) }),
        () => ({ ttlSeconds: json(0) })
      ])())
    }
    if (r < 0.78) return Uint8Array.from({ length: int(0, 300) }, () => int(0, 255))
    if (r < 0.84) return pick(['{', '}', '[', 'null', '"str"', '1', '{"content":', '{"__proto__":{"a":1}}', '{"constructor":{"prototype":{"a":1}}}', '{"content":"a","content":"b"}', ' '])
    if (r < 0.88) return '['.repeat(int(100, 20000)) + ']'.repeat(int(0, 20000))
    if (r < 0.92) return JSON.stringify({ content: JSON.parse('['.repeat(3000) + ']'.repeat(3000)) })
    return str(200)
  }
  return (): RawRequest => {
    const method = pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'])
    const path = pick(shapes)() + query()
    const b = method === 'GET' || method === 'HEAD' ? (chance(0.1) ? body() : undefined) : body()
    const headers: Record<string, string> = {}
    const ra = rnd()
    if (ra < 0.85) headers.authorization = `Bearer ${token}`
    else if (ra < 0.92) headers.authorization = pick(['Bearer ', `Bearer ${token}0`, 'Basic abc', str(20).replace(/[\u0000-\u001f\u007f-\u{10ffff}]/gu, '')])
    if (b !== undefined && chance(0.85)) headers['content-type'] = pick(['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/octet-stream'])
    headers.host = chance(0.93) ? pick([`127.0.0.1:${port}`, 'localhost', `[::1]:${port}`]) : pick(['evil.example', 'localhost.evil', '127.0.0.2', ''])
    if (chance(0.05)) headers['content-encoding'] = pick(['gzip', 'br', 'identity'])
    if (chance(0.05)) headers.accept = pick(['text/html', '*/*', 'application/xml'])
    if (chance(0.05)) headers['x-forwarded-host'] = 'evil.example'
    return { method, path, headers, ...(b !== undefined ? { body: b } : {}), timeoutMs: 20_000 }
  }
}

test(`1,000 random requests: never a 5xx, always the error envelope, daemon still up (seed ${SEED})`, async () => {
  const next = generator(prng(SEED), n.daemon.apiPort, n.token)
  const statuses = new Map<number, number>()
  for (let i = 0; i < RUNS; i++) {
    const r = next()
    const where = `request #${i} ${r.method} ${r.path.slice(0, 200)} (seed ${SEED}; rerun with CAIRN_FUZZ_SEED=${SEED})`
    let res
    try { res = await rawRequest(n.daemon.apiPort, r) } catch (e) { assert.fail(`${where}: no answer: ${String(e)} headers=${JSON.stringify(r.headers)} body=${r.body === undefined ? "none" : typeof r.body === "string" ? JSON.stringify(r.body.slice(0, 100)) + " len " + r.body.length : "bytes " + r.body.length}`) }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    const allowed503 = res.status === 503 && ['NO_PEERS', 'INSUFFICIENT_SHARES'].includes(res.json?.error?.code) // contract: not enough peers/shares
    assert.ok(res.status < 500 || allowed503, `${where} → ${res.status}: ${res.text.slice(0, 300)}`)
    if (res.status >= 400 && r.method !== 'HEAD') {
      try { assertErrorEnvelope(res, res.status) } catch (e) { assert.fail(`${where}: ${(e as Error).message}`) }
    }
  }
  // the fuzz reached past the front door, not just 401/403/404
  assert.ok((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > 20, `too few successes: ${JSON.stringify([...statuses])}`)
  assert.ok((statuses.get(400) ?? 0) > 50, `too few 400s: ${JSON.stringify([...statuses])}`)

  const h = await rawRequest(n.daemon.apiPort, { method: 'GET', path: '/api/v1/health' })
  assert.equal(h.status, 200)
  assert.deepEqual(h.json, { status: 'ok' })
  const s = await n.ok('GET', '/api/v1/status')
  assert.equal(s.unlocked, true)
  const it = await n.ok('GET', `/api/v1/items/${sentinel}`)
  assert.equal(it.content, 'sentinel')
  const w = await n.api('POST', `/api/v1/groups/${n.personalGroupId}/items`, { content: 'after the fuzz' })
  assert.equal(w.status, 201)
})

test('a malformed URL escape or an over-long path segment gets the error envelope (and the Host/token checks still apply)', async () => {
  const port = n.daemon.apiPort
  const auth = { authorization: `Bearer ${n.token}` }
  assertErrorEnvelope(await rawRequest(port, { method: 'GET', path: '/api/v1/groups/%Y/items', headers: auth }), 400, 'INVALID_INPUT')
  const long = await rawRequest(port, { method: 'GET', path: `/api/v1/items/${'x'.repeat(300)}`, headers: auth })
  assert.ok(long.status === 404 || long.status === 400 || long.status === 414, String(long.status))
  assertErrorEnvelope(long, long.status)
  assertErrorEnvelope(await rawRequest(port, { method: 'GET', path: '/api/v1/groups/%Y/items', headers: { ...auth, host: 'evil.example' } }), 403, 'HOST_NOT_ALLOWED')
  assertErrorEnvelope(await rawRequest(port, { method: 'GET', path: '/api/v1/groups/%Y/items' }), 401, 'UNAUTHORIZED')
})
