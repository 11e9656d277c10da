/**
 * Request schemas compile on first use (src/api/lazy-validators.ts), not at
 * start: what a request is checked against, and the 400 it gets, must be what
 * fastify's own eager compiler gives — for every route with a body.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import AjvCompiler from '@fastify/ajv-compiler'
import Fastify from 'fastify'
import { lazyValidators } from '../../src/api/lazy-validators.js'
import { AJV_OPTIONS, allRoutes, startApi } from '../../src/api/server.js'
import { toHttpError } from '../../src/api/errors.js'
import type { ApiBackend } from '../../src/api/backend.js'
import { silentLogger } from '../../src/util/logger.js'
import { assertErrorEnvelope, rawRequest } from '../helpers/http.js'

/** fastify's default compiler, counting the schemas it compiles. */
function counting (): { build: ReturnType<typeof AjvCompiler>, compiled: () => number } {
  const eager = AjvCompiler()
  let n = 0
  return {
    build: (ext, o) => { const c = eager(ext, o); return (...route) => { n++; return c(...route) } },
    compiled: () => n
  }
}

test('no schema is compiled while the server gets ready; one is, once, on its route\'s first request', async () => {
  const c = counting()
  const app = Fastify({ ajv: { customOptions: AJV_OPTIONS }, schemaController: { compilersFactory: { buildValidator: lazyValidators(c.build) } } })
  const body = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } }, additionalProperties: false }
  app.post('/a', { schema: { body } }, async req => req.body)
  app.post('/b', { schema: { body } }, async req => req.body)
  await app.ready()
  assert.equal(c.compiled(), 0)
  const bad = await app.inject({ method: 'POST', url: '/a', payload: { n: 'one' } })
  assert.equal(bad.statusCode, 400)
  assert.match(bad.json().message, /body\/n must be integer/)
  assert.equal(c.compiled(), 1)
  // removeAdditional still applies: the unknown field is dropped, not refused.
  const ok = await app.inject({ method: 'POST', url: '/a', payload: { n: 1, extra: true } })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { n: 1 })
  assert.equal(c.compiled(), 1)
  await app.close()
})

const TOKEN = 'lazy-validators-test-token'
let port = 0
let close: () => Promise<void> = async () => {}
before(async () => {
  // A handler is never reached: every request below fails its schema.
  const backend = new Proxy({ dataDir: '/nonexistent' }, { get: (t, k) => k in t ? (t as never)[k] : () => { throw new Error(`backend.${String(k)} called`) } }) as unknown as ApiBackend
  const { app, port: p } = await startApi(backend, { host: '127.0.0.1', port: 0, token: TOKEN, maxBodyBytes: 1 << 20, version: 'test', log: silentLogger() })
  port = p
  close = async () => { await app.close() }
})
after(async () => { await close() })

/** The same route on a fastify app compiling eagerly with fastify's default compiler, errors mapped as the server maps them. */
async function eagerAnswer (r: ReturnType<typeof allRoutes>[number], body: unknown): Promise<{ status: number, json: any }> {
  const app = Fastify({ ajv: { customOptions: AJV_OPTIONS } })
  app.setErrorHandler((e, _req, reply) => { const h = toHttpError(e); void reply.status(h.status).send(h.body) })
  app.route({ method: r.method, url: r.path, schema: { body: r.body }, handler: async () => ({ passed: true }) })
  const res = await app.inject({ method: r.method, url: r.path, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  await app.close()
  return { status: res.statusCode, json: res.json() }
}

test('every route with a body refuses a bad body with the 400 fastify\'s eager compiler gives', async () => {
  const withBody = allRoutes().filter(r => r.body !== undefined)
  assert.ok(withBody.length >= 10, `only ${withBody.length} routes with a body`)
  let checked = 0
  for (const r of withBody) {
    const path = r.path.replace(/:(\w+)/g, (_m, name: string) => name === 'gid' || name === 'id' ? '00000000-0000-4000-8000-000000000000' : 'x')
    for (const bad of [[], {}, { name: 7, content: 7, entityId: 7, role: 'boss', passphrase: 7 }, 'text']) {
      const want = await eagerAnswer(r, bad)
      if (want.status !== 400) continue
      const res = await rawRequest(port, { method: r.method, path, body: JSON.stringify(bad), headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } })
      assertErrorEnvelope(res, 400, 'INVALID_INPUT')
      assert.deepEqual(res.json, want.json, `${r.method} ${r.path} with ${JSON.stringify(bad)}`)
      checked++
    }
  }
  assert.ok(checked >= 2 * withBody.length, `only ${checked} bad bodies were refused`)
})
