/** Error → HTTP status, in one place. Bad input never becomes a 500. */
import { STATUS_CODES } from 'node:http'
import { isCairnError, isDiskFull, isStorageCorrupt, storageCorrupt, storageFull, type ErrorCode } from '../util/errors.js'

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400, CONFIG: 400,
  BAD_PASSPHRASE: 401, UNAUTHORIZED: 401,
  FORBIDDEN: 403, KEEPER_HAS_NO_KEYS: 403, HOST_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409, CONCURRENT_CHANGE: 409, LIMIT_REACHED: 409, KEY_EXHAUSTED: 409, IS_A_CIRCLE: 409, NOT_A_CIRCLE: 409,
  APPEND_ONLY: 409, ALREADY_INITIALIZED: 409, NOT_INITIALIZED: 409,
  TOO_LARGE: 413,
  INTEGRITY: 422,
  VAULT_LOCKED: 423, CIRCLE_SEALED: 423,
  HEADERS_TOO_LARGE: 431, REQUEST_TIMEOUT: 408, THROTTLED: 429,
  STORAGE_FULL: 507,
  INSUFFICIENT_SHARES: 503, BAD_SHARE: 503, NO_PEERS: 503, UNAVAILABLE: 503, TIMEOUT: 504,
  INTERNAL: 500
}

export interface ErrorEnvelope { error: { code: string, message: string, [k: string]: unknown } }

export function statusFor (code: ErrorCode): number { return STATUS[code] ?? 500 }

/** Map anything thrown by a handler, or by fastify itself, to a status and envelope. */
export function toHttpError (e: unknown): { status: number, body: ErrorEnvelope, internal: boolean } {
  if (isDiskFull(e)) e = storageFull(e)
  else if (isStorageCorrupt(e)) e = storageCorrupt(e)
  if (isCairnError(e)) {
    return { status: statusFor(e.code), body: { error: { code: e.code, message: e.message, ...(e.details ?? {}) } }, internal: e.code === 'INTERNAL' }
  }
  const fe = e as { statusCode?: number, code?: string, message?: string, validation?: unknown }
  if (fe?.validation !== undefined) return { status: 400, body: { error: { code: 'INVALID_INPUT', message: `invalid request: ${fe.message ?? 'validation failed'}` } }, internal: false }
  const sc = typeof fe?.statusCode === 'number' ? fe.statusCode : undefined
  if (sc !== undefined && sc >= 400 && sc < 500) {
    if (sc === 413) return { status: 413, body: { error: { code: 'TOO_LARGE', message: 'the request body is larger than api.max_body_bytes' } }, internal: false }
    if (sc === 404) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such route' } }, internal: false }
    return { status: 400, body: { error: { code: 'INVALID_INPUT', message: `invalid request: ${fe.message ?? 'bad request'}` } }, internal: false }
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; see the daemon log' } }, internal: true }
}

/**
 * The raw HTTP answer to a request node's parser refused before fastify saw
 * it: the same envelope as every other error; no body for HEAD (the request
 * line was read even when a header overflowed); the connection closes.
 */
export function clientErrorResponse (err: { code?: string, rawPacket?: Buffer }): string {
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW' ? ['HEADERS_TOO_LARGE', 'the request URL and headers are larger than the server accepts (16 KiB); send long values in the body']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['REQUEST_TIMEOUT', 'the request was not received in time']
        : ['INVALID_INPUT', `the request is not valid HTTP/1.1 (${(err.code ?? 'parse error').slice(0, 60)})`]
  const status = statusFor(code)
  const head = err.rawPacket !== undefined && err.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD '
  const body = JSON.stringify({ error: { code, message } })
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`
}
