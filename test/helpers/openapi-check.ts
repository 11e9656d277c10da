/**
 * Every HTTP response the test helpers see is checked against the OpenAPI
 * document the server serves (generated from src/contract/): the status must
 * be one the operation declares, and a JSON body must match the declared
 * schema. Objects are closed for the check (additionalProperties: false
 * wherever the document leaves it open), so a field the document does not
 * list fails here while the published document stays open to additions.
 */
import assert from 'node:assert/strict'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { openApiDocument } from '../../src/api/openapi.js'

type Json = Record<string, any>

const addFormats = addFormatsModule as unknown as (a: Ajv2020) => void
export const DOC = openApiDocument('test') as Json

/** additionalProperties: false on every object schema with properties that does not say otherwise. */
function close (s: unknown): unknown {
  if (Array.isArray(s)) return s.map(close)
  if (s === null || typeof s !== 'object') return s
  const o: Json = {}
  for (const [k, v] of Object.entries(s)) o[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([p, ps]) => [p, close(ps)])) : close(v)
  if (o.type === 'object' && o.properties !== undefined && !('additionalProperties' in o) && !('patternProperties' in o)) o.additionalProperties = false
  return o
}

const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats(ajv)
ajv.addSchema(close(DOC) as Json, 'cairn')

interface Op { method: string, template: string, re: RegExp, params: number, responses: Json }
const OPS: Op[] = Object.entries(DOC.paths as Record<string, Json>).flatMap(([template, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    method: method.toUpperCase(),
    template,
    re: new RegExp('^' + template.replace(/\{\w+\}/g, '[^/]+') + '$'),
    params: (template.match(/\{/g) ?? []).length,
    responses: (op as Json).responses as Json
  })))

const validators = new Map<string, ValidateFunction>()
function validator (pointer: string): ValidateFunction {
  let v = validators.get(pointer)
  if (v === undefined) { v = ajv.getSchema(`cairn#${pointer}`)!; validators.set(pointer, v) }
  assert.ok(v !== undefined, `no schema at ${pointer}`)
  return v
}
const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1')

export function operationFor (method: string, path: string): Op | undefined {
  const p = path.split('?')[0]!
  return OPS.filter(o => o.method === method.toUpperCase() && o.re.test(p)).sort((a, b) => a.params - b.params)[0]
}

/** Throws an AssertionError naming the route, the status and what does not match. */
export function checkResponse (method: string, path: string, status: number, contentType: string | null | undefined, text: string): void {
  if (method.toUpperCase() === 'HEAD' || status === 0) return
  const op = operationFor(method, path)
  const what = `${method.toUpperCase()} ${path.split('?')[0]!.slice(0, 120)} → ${status}`
  let pointer: string
  let media: string
  if (op === undefined) {
    // No such operation: only an error envelope is right (404, or 403/401 before routing).
    assert.ok(status >= 400, `${what}: a success from a route the OpenAPI document does not list`)
    pointer = '/components/schemas/Error'
    media = 'application/json'
  } else {
    const r = op.responses[String(status)] as Json | undefined
    assert.ok(r !== undefined, `${what}: status ${status} is not declared for ${op.method} ${op.template} (declared: ${Object.keys(op.responses).join(', ')}); add it to its entry in src/contract/routes.ts`)
    media = Object.keys(r.content ?? {})[0] ?? 'application/json'
    pointer = `/paths/${esc(op.template)}/${op.method.toLowerCase()}/responses/${status}/content/${esc(media)}/schema`
  }
  const ct = (contentType ?? '').split(';')[0]!.trim()
  assert.equal(ct, media, `${what}: content-type ${ct || '(none)'}, declared ${media}`)
  if (media !== 'application/json') return
  let body: unknown
  try { body = JSON.parse(text) } catch { assert.fail(`${what}: the body is not JSON: ${text.slice(0, 200)}`) }
  const v = validator(pointer)
  if (!v(body)) {
    const errs = (v.errors ?? []).slice(0, 5).map(e => `${e.instancePath || '/'} ${e.message ?? ''}${e.params !== undefined && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ')
    assert.fail(`${what}: the body does not match its OpenAPI schema (${op?.template ?? 'Error'}): ${errs}\nbody: ${text.slice(0, 400)}`)
  }
}

/** A fetch that checks every response it returns (for CairnClient in tests). */
export function checkingFetch (base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init)
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    const ct = res.headers.get('content-type')
    if (ct?.startsWith('text/event-stream') === true) { checkResponse(init?.method ?? 'GET', url.pathname, res.status, ct, ''); return res }
    const text = await res.clone().text()
    checkResponse(init?.method ?? 'GET', url.pathname + url.search, res.status, ct, text)
    return res
  }
}
