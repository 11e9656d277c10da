/** The OpenAPI 3.1 document, generated from the same route table the server registers. */
import type { RouteDef } from './route.js'

export function openApiDocument (routes: Array<RouteDef<never>>, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const p = r.path.replace(/:(\w+)/g, '{$1}')
    const params = [...r.path.matchAll(/:(\w+)/g)].map(m => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }))
    const query = Object.entries(r.query ?? {}).map(([name, q]) => ({ name, in: 'query', required: false, description: q.description, schema: { type: q.type } }))
    const status = String(r.status ?? 200)
    paths[p] ??= {}
    paths[p][r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.auth === false ? { security: [] } : {}),
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body !== undefined ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      responses: {
        [status]: { description: 'success', content: { [r.contentType ?? (r.path === '/metrics' ? 'text/plain' : 'application/json')]: { schema: r.response ?? {} } } },
        default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'cairn node API', version, description: 'Local API of a cairn node. Errors: {"error":{"code","message"}}; 400 invalid input, 401 token/passphrase, 403 role, 404, 409 conflict, 413 too large, 422 integrity, 423 locked/sealed, 503 shares/peers.' },
    servers: [{ url: 'http://127.0.0.1:9473' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the content of <dataDir>/api-token' } },
      schemas: { Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } } } }
    },
    security: [{ bearer: [] }],
    paths
  }
}
