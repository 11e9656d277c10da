/**
 * Raw HTTP for tests that need full control of the request: any method, any
 * Host header, arbitrary bytes as body (fetch refuses some of these).
 */
import { request } from 'node:http'
import assert from 'node:assert/strict'
import { checkResponse } from './openapi-check.js'

export interface RawResponse { status: number, headers: Record<string, string | string[] | undefined>, text: string, json: any }

export interface RawRequest {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  timeoutMs?: number
  /** Default true: check the response against the node API's OpenAPI document (false for other servers). */
  check?: boolean
}

export function rawRequest (port: number, r: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers = { ...r.headers }
    if (r.body !== undefined) headers['content-length'] = String(typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length)
    const req = request({ host: '127.0.0.1', port, agent: false, method: r.method, path: r.path, headers, setHost: r.headers?.host === undefined && r.headers?.Host === undefined }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c as Buffer))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if (r.check !== false) try { checkResponse(r.method, r.path, res.statusCode ?? 0, res.headers['content-type'], text) } catch (e) { reject(e); return }
        let json: any
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    req.setTimeout(r.timeoutMs ?? 30_000, () => req.destroy(new Error(`request timed out: ${r.method} ${r.path}`)))
    req.on('error', reject)
    if (r.body !== undefined) req.write(r.body)
    req.end()
  })
}

/** The contract's error envelope: {"error":{"code":"UPPER_SNAKE","message":"…"}}. */
export function assertErrorEnvelope (res: { status: number, json: any, text: string }, status: number, code?: string): void {
  assert.equal(res.status, status, `expected ${status}${code !== undefined ? ` ${code}` : ''}, got ${res.status}: ${res.text.slice(0, 300)}`)
  assert.ok(res.json !== null && typeof res.json === 'object', `error body is not JSON: ${res.text.slice(0, 200)}`)
  const e = res.json.error
  assert.ok(e !== null && typeof e === 'object', `no "error" object in ${res.text.slice(0, 200)}`)
  assert.match(e.code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, 'error code is UPPER_SNAKE')
  assert.equal(typeof e.message, 'string')
  assert.ok(e.message.length > 0, 'error message is empty')
  if (code !== undefined) assert.equal(e.code, code)
}
