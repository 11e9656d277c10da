/**
 * The local HTTP API (fastify) on 127.0.0.1:9473 by default.
 * Order of checks on every request: Host must be a loopback name (DNS-rebinding
 * defence) → bearer token (all but health) → body size → JSON parse → schema →
 * handler. Every failure is the contract's error envelope; a 500 means a bug.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { createHash, timingSafeEqual } from 'node:crypto'
import { Readable } from 'node:stream'
import sjson from 'secure-json-parse'
import { assertBoundedStructure } from '../util/bounds.js'
import { CairnError } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { ApiBackend, LoggedEvent } from './backend.js'
import { clientErrorResponse, toHttpError } from './errors.js'
import { openApiDocument } from './openapi.js'
import { Replied, Streamed, type Req, type RouteDef } from './route.js'
import { routes as contract } from '../contract/routes.js'
import { hostIsLoopback } from '../util/loopback.js'
import { lazyValidators } from './lazy-validators.js'
import { groupRoutes } from './routes/group-routes.js'
import { itemRoutes } from './routes/item-routes.js'
import { nodeRoutes } from './routes/node-routes.js'
import { eventRoutes } from './routes/event-routes.js'
import { circleRoutes } from './routes/circle-routes.js'
import { membershipRoutes } from './routes/membership-routes.js'
import { operatorRoutes } from './routes/operator-routes.js'

export interface ApiOptions {
  host: string, port: number, token: string, maxBodyBytes: number, version: string, log: Logger, onRequest?: (method: string, route: string, status: number) => void
  /** A start's timings: building the app (routes, schemas compiled at ready) and listening. */
  phases?: { mark: (name: string) => void }
}


/** ajv's options for request bodies (over fastify's defaults): no coercion, unknown fields dropped, the first error only. */
export const AJV_OPTIONS = { coerceTypes: false, removeAdditional: true, useDefaults: false, allErrors: false } as const

/** Every route the server registers; startApi checks it against the contract, so the OpenAPI document lists exactly these. */
export function allRoutes (): RouteDef[] {
  return [...nodeRoutes, ...groupRoutes, ...itemRoutes, ...circleRoutes, ...membershipRoutes, ...eventRoutes, ...operatorRoutes]
}

export async function startApi (backend: ApiBackend, o: ApiOptions): Promise<{ app: FastifyInstance, port: number }> {
  const app = Fastify({
    bodyLimit: o.maxBodyBytes,
    logger: false,
    ajv: { customOptions: AJV_OPTIONS },
    schemaController: { compilersFactory: { buildValidator: lazyValidators() } },
    // Our own 503 (in the envelope) while stopping: see the onRequest hook.
    return503OnClosing: false,
    // Node's HTTP parser refuses a request before fastify sees it (431 for a
    // huge URL or header, 400 for bytes that are not HTTP, 408 for a client
    // too slow to send its headers): still the envelope, and no body for HEAD.
    clientErrorHandler: (err, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      if (socket.writable) socket.write(clientErrorResponse(err as unknown as { code?: string, rawPacket?: Buffer }))
      socket.destroy()
    },
    // Errors fastify raises before routing (a bad % escape, an over-long
    // parameter) get the same checks and envelope as everything else.
    frameworkErrors: (err, req, reply) => {
      const deny = gate(req.headers.host, req.url, req.headers.authorization)
      const e = toHttpError(deny ?? new CairnError('INVALID_INPUT', `invalid request: ${err.message}`))
      void (reply as unknown as FastifyReply).status(e.status).type('application/json').send(e.body)
    },
    routerOptions: { maxParamLength: 200 },
    forceCloseConnections: true
  })
  const tokenDigest = createHash('sha256').update(o.token).digest()
  /** Host first (DNS rebinding), then the token (all routes but health). */
  function gate (host: string | undefined, url: string, authorization: string | undefined): CairnError | undefined {
    if (!hostIsLoopback(host)) return new CairnError('HOST_NOT_ALLOWED', 'this API answers only requests addressed to a loopback host (localhost, 127.0.0.1, [::1])')
    if (url === '/api/v1/health' || url.startsWith('/api/v1/health?')) return undefined
    const m = typeof authorization === 'string' ? /^Bearer\s+(\S+)$/i.exec(authorization) : null
    const given = createHash('sha256').update(m?.[1] ?? '').digest()
    if (m === null || !timingSafeEqual(given, tokenDigest)) {
      return new CairnError('UNAUTHORIZED', `missing or wrong API token: send "Authorization: Bearer <token>" with the content of ${backend.dataDir}/api-token`)
    }
    return undefined
  }
  const routes = allRoutes()
  const served = new Set([...routes.map(r => r.operationId), 'getOpenApi'])
  const missing = Object.keys(contract).filter(k => !served.has(k))
  if (missing.length > 0) throw new CairnError('INTERNAL', `routes in the contract with no handler: ${missing.join(', ')}`)
  // Built on first request (~13 ms of every start otherwise).
  let doc: ReturnType<typeof openApiDocument> | undefined

  // Any content type is read as JSON (curl -d works); empty bodies are allowed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string
    if (text.trim() === '') { done(null, undefined); return }
    let value: unknown
    try {
      value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
    } catch {
      done(new CairnError('INVALID_INPUT', 'the request body is not valid JSON'), undefined)
      return
    }
    // Depth and size bounded before validation, handlers and JSON.stringify recurse into it.
    try { assertBoundedStructure(value, 'the request body') } catch (e) { done(e as Error, undefined); return }
    done(null, value)
  })

  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (closing) throw new CairnError('UNAVAILABLE', 'the node is stopping; retry once it has restarted')
    const deny = gate(req.headers.host, req.url, req.headers.authorization)
    if (deny !== undefined) throw deny
  })

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toHttpError(err)
    if (e.internal) o.log.error({ err, url: req.url, method: req.method }, 'internal error')
    if (typeof e.body.error.retryAfterSeconds === 'number') void reply.header('retry-after', String(e.body.error.retryAfterSeconds))
    void reply.status(e.status).type('application/json').send(e.body)
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}` } })
  })
  app.addHook('onResponse', async (req, reply) => {
    o.onRequest?.(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode)
  })

  app.get(contract.getOpenApi.path, async () => (doc ??= openApiDocument(o.version)))
  app.get(contract.events.path, (req, reply) => {
    const query = req.query as Record<string, unknown>
    const group = query.group
    if (group !== undefined && typeof group !== 'string') throw new CairnError('INVALID_INPUT', 'group must be a string')
    const head = { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' }
    // fastify answers HEAD with this GET handler: without this the stream was
    // opened and the socket held forever (issue 12 item 3).
    if (req.method === 'HEAD') { void reply.status(200).headers(head).send(); return }
    const header = req.headers['last-event-id']
    const lastId = typeof header === 'string' ? header : typeof query.lastEventId === 'string' ? query.lastEventId : undefined
    if (lastId !== undefined && lastId.length > 64) throw new CairnError('INVALID_INPUT', 'Last-Event-ID is at most 64 characters')
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, head)
    res.write(': cairn events\nretry: 2000\n\n')
    const write = (e: LoggedEvent): void => {
      if (group !== undefined && e.event.groupId !== group) return
      res.write(`id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`)
    }
    // Subscribe before replaying, so nothing falls between the two.
    const queued: LoggedEvent[] = []
    let replaying = true
    const off = backend.events.subscribe(e => { if (replaying) queued.push(e); else write(e) })
    const { events, gap } = backend.events.since(lastId)
    if (gap) res.write(`event: gap\ndata: ${JSON.stringify({ type: 'gap', lastEventId: lastId, at: new Date().toISOString() })}\n\n`)
    const seen = new Set(events.map(e => e.id))
    for (const e of events) write(e)
    for (const e of queued) if (!seen.has(e.id)) write(e)
    replaying = false
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.raw.on('close', () => { off(); clearInterval(ping) })
  })
  for (const r of routes) {
    if (r.contentType === 'text/event-stream') continue
    app.route({
      method: r.method,
      url: r.path,
      ...(r.body !== undefined ? { schema: { body: r.body } } : {}),
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        if (r.body === undefined && req.body !== undefined && (req.body === null || typeof req.body !== 'object' || Object.keys(req.body).length > 0)) {
          throw new CairnError('INVALID_INPUT', `${r.method} ${r.path} takes no body`)
        }
        const q: Req = { params: req.params as Record<string, string>, query: flatQuery(req.query), body: req.body, headers: req.headers }
        const out = await r.handler(q, backend)
        if (out instanceof Replied) return reply.status(out.status).send(out.body)
        if (out instanceof Streamed) return reply.status(r.status ?? 200).type(r.contentType ?? 'application/x-ndjson').headers(out.headers).send(Readable.from(out.lines))
        if (out !== null && typeof out === 'object' && 'raw' in out && typeof (out as { raw: unknown }).raw === 'string') {
          const o2 = out as { raw: string, contentType?: string }
          return reply.status(r.status ?? 200).type(o2.contentType ?? 'text/plain').send(o2.raw)
        }
        return reply.status(r.status ?? 200).send(out)
      }
    })
  }
  await app.ready()
  o.phases?.mark('api-build')
  await app.listen({ host: o.host, port: o.port })
  o.phases?.mark('api-listen')
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : o.port
  return { app, port }
}

/** Repeated query keys are an error rather than an array surprise. */
function flatQuery (q: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries((q ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new CairnError('INVALID_INPUT', `query parameter ${k.slice(0, 50)} is given more than once`)
    out[k] = v
  }
  return out
}
