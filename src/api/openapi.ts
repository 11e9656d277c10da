/**
 * The OpenAPI 3.1 document served at GET /api/v1/openapi.json, generated
 * from the contract (src/contract/routes.ts): every operation with its
 * operationId, parameters, request body, success response schema and the
 * error statuses it can answer. Named models (schemas with a `title`) are
 * listed once under components.schemas and referenced from the operations.
 */
import type { TObject, TSchema } from '@sinclair/typebox'
import { ErrorBody, NodeEvent, routes, type RouteSpec } from '../contract/index.js'

/** Every route: bad input, token, Host/role, not found; and what node's HTTP parser answers before routing (slow headers, oversized URL or headers). */
const COMMON_ERRORS = [400, 401, 403, 404, 408, 431]
/** Every route that writes: the disk may fill up. */
const WRITE_ERRORS = [507]
/** Every route naming a group or an item: its group may have been deleted by its owner. */
const GROUP_ERRORS = [410]
const namesGroup = (path: string): boolean => path.includes(':gid') || path.startsWith('/api/v1/items/:id')
const STATUS_TEXT: Record<number, string> = {
  400: 'invalid input (INVALID_INPUT)', 401: 'missing or wrong token (UNAUTHORIZED), wrong passphrase (BAD_PASSPHRASE)',
  403: 'role (FORBIDDEN), keeper (KEEPER_HAS_NO_KEYS), Host not loopback (HOST_NOT_ALLOWED)', 404: 'no such route or object (NOT_FOUND)',
  408: 'the request headers did not arrive in time (REQUEST_TIMEOUT)',
  409: 'conflict: state does not allow it (CONFLICT, CONCURRENT_CHANGE, LIMIT_REACHED, KEY_EXHAUSTED, IS_A_CIRCLE, NOT_A_CIRCLE, APPEND_ONLY, …)',
  429: 'too many attempts: wait retryAfterSeconds (THROTTLED; also the Retry-After header)',
  431: 'the request URL and headers are too large (HEADERS_TOO_LARGE)',
  507: 'the node\'s disk is full: nothing was written (STORAGE_FULL)', 413: 'request body too large (TOO_LARGE)',
  410: 'the group was deleted by its owner (GROUP_DELETED)', 422: 'stored data failed verification (INTEGRITY)', 423: 'vault locked (VAULT_LOCKED) or circle sealed (CIRCLE_SEALED)',
  503: 'not enough shares or peers (INSUFFICIENT_SHARES, BAD_SHARE, NO_PEERS, UNAVAILABLE)', 504: 'a peer did not answer in time (TIMEOUT)'
}

type Json = Record<string, unknown>

/** Plain JSON of a TypeBox schema, with named models replaced by $refs (except at `keep`). */
function refs (s: unknown, models: Map<string, Json>, keep?: string): unknown {
  if (Array.isArray(s)) return s.map(x => refs(x, models))
  if (s === null || typeof s !== 'object') return s
  const o = s as Json
  const title = typeof o.title === 'string' ? o.title : undefined
  if (title !== undefined && title !== keep) {
    if (!models.has(title)) { models.set(title, {}); models.set(title, refs(o, models, title) as Json) }
    return { $ref: `#/components/schemas/${title}` }
  }
  const out: Json = {}
  for (const [k, v] of Object.entries(o)) out[k] = refs(v, models)
  return out
}

function parameters (spec: RouteSpec, models: Map<string, Json>): Json[] {
  const out: Json[] = []
  for (const [where, obj] of [['path', spec.params], ['query', spec.query]] as Array<['path' | 'query', TObject | undefined]>) {
    if (obj === undefined) continue
    const required = new Set(obj.required ?? [])
    for (const [name, schema] of Object.entries(obj.properties as Record<string, TSchema>)) {
      const { description, ...rest } = refs(schema, models) as Json
      out.push({ name, in: where, required: where === 'path' || required.has(name), ...(description !== undefined ? { description } : {}), schema: rest })
    }
  }
  return out
}

export function openApiDocument (version: string): Json {
  const models = new Map<string, Json>()
  const errorRef = refs(ErrorBody, models)
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [operationId, spec] of Object.entries(routes) as Array<[string, RouteSpec]>) {
    const path = spec.path.replace(/:(\w+)/g, '{$1}')
    const params = parameters(spec, models)
    const contentType = spec.contentType ?? 'application/json'
    const success = contentType === 'text/event-stream'
      ? { description: spec.description ?? 'an event stream', content: { [contentType]: { schema: { type: 'string' }, 'x-cairn-event-data': refs(NodeEvent, models, 'NodeEvent') } } }
      : { description: 'success', content: { [contentType]: { schema: refs(spec.response, models) } } }
    const errors = [...new Set([...COMMON_ERRORS, ...(spec.body !== undefined ? [413] : []), ...(spec.method !== 'GET' ? WRITE_ERRORS : []), ...(namesGroup(spec.path) ? GROUP_ERRORS : []), ...(spec.errors ?? [])])].sort()
    paths[path] ??= {}
    paths[path][spec.method.toLowerCase()] = {
      operationId,
      summary: spec.summary,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      tags: [spec.tag],
      ...(spec.auth === false ? { security: [] } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(spec.body !== undefined ? { requestBody: { required: !isAllOptional(spec.body), content: { 'application/json': { schema: refs(spec.body, models) } } } } : {}),
      responses: {
        [String(spec.status ?? 200)]: success,
        ...(spec.accepted !== undefined ? { 202: { description: 'accepted: the work goes on', 'x-cairn-in-progress': true, content: { 'application/json': { schema: refs(spec.accepted, models) } } } } : {}),
        ...Object.fromEntries(errors.map(s => [String(s), { description: STATUS_TEXT[s] ?? 'error', content: { 'application/json': { schema: errorRef } } }]))
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'cairn node API',
      version,
      description: 'The local API of a cairn node (127.0.0.1:9473 by default). Every route but /api/v1/health needs `Authorization: Bearer <token>` with the content of <dataDir>/api-token; requests whose Host is not a loopback name are refused. Errors: {"error":{"code","message"}} with a stable UPPER_SNAKE code.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' }
    },
    servers: [{ url: 'http://127.0.0.1:9473' }],
    tags: [
      { name: 'node', description: 'identity, vault, events, metrics' }, { name: 'network', description: 'peers and anti-entropy' },
      { name: 'groups', description: 'groups, members, keepers, key rotation' }, { name: 'items', description: 'memory items and search' },
      { name: 'circles', description: 'threshold-key circles' },
      { name: 'membership', description: 'invitations, leaving, deleting a group' }, { name: 'audit', description: 'the hash-chained audit log' }
    ],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the content of <dataDir>/api-token' } },
      schemas: Object.fromEntries([...models].sort(([a], [b]) => a.localeCompare(b)))
    },
    security: [{ bearer: [] }],
    paths
  }
}

function isAllOptional (s: TSchema): boolean {
  return s.type === 'object' && (s.required === undefined || (s.required as string[]).length === 0)
}
