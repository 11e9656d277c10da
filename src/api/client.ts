/**
 * HTTP client for the local API: the CLI talks to the daemon only through this.
 * The address comes from <dataDir>/daemon.json (written by a running daemon,
 * so --api-port 0 works) or from the config; the token from <dataDir>/api-token.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CairnError, type ErrorCode } from '../util/errors.js'

export interface ClientOptions { dataDir: string, baseUrl?: string, token?: string, timeoutMs?: number }

export class ApiClient {
  readonly baseUrl: string
  private readonly token: string

  constructor (o: ClientOptions) {
    this.baseUrl = o.baseUrl ?? resolveBaseUrl(o.dataDir)
    this.token = o.token ?? readToken(o.dataDir)
    this.timeoutMs = o.timeoutMs ?? 120_000
  }

  private readonly timeoutMs: number

  private async send (method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal !== undefined ? { signal } : {})
      })
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code
      if (cause === 'ECONNREFUSED') throw new CairnError('UNAVAILABLE', `no cairn daemon answers at ${this.baseUrl}; start one with \`cairn start\``)
      throw new CairnError('UNAVAILABLE', `cannot reach the cairn daemon at ${this.baseUrl}: ${(e as Error).message}`)
    }
  }

  /** A streamed GET (JSON Lines exports): the body as it arrives, with the headers; errors as for call(). */
  async stream (path: string): Promise<{ headers: Headers, body: AsyncIterable<Uint8Array> }> {
    const res = await this.send('GET', path, undefined, undefined)
    if (!res.ok || res.body === null) { await this.answer(res); throw new CairnError('INTERNAL', `HTTP ${res.status} without a body`) }
    return { headers: res.headers, body: res.body as unknown as AsyncIterable<Uint8Array> }
  }

  async call<T = unknown> (method: string, path: string, body?: unknown): Promise<T> {
    return await this.answer<T>(await this.send(method, path, body, AbortSignal.timeout(this.timeoutMs)))
  }

  private async answer<T> (res: Response): Promise<T> {
    const text = await res.text()
    const ct = res.headers.get('content-type') ?? ''
    if (!ct.includes('application/json')) {
      if (!res.ok) throw new CairnError('INTERNAL', `HTTP ${res.status}: ${text.slice(0, 200)}`)
      return text as T
    }
    const json = text === '' ? undefined : JSON.parse(text) as unknown
    if (!res.ok) {
      const err = (json as { error?: { code?: string, message?: string, [k: string]: unknown } })?.error
      const { code, message, ...details } = err ?? {}
      throw new CairnError((code ?? 'INTERNAL') as ErrorCode, message ?? `HTTP ${res.status}`, { ...details, status: res.status })
    }
    return json as T
  }

  get<T = unknown> (path: string): Promise<T> { return this.call<T>('GET', path) }
  post<T = unknown> (path: string, body?: unknown): Promise<T> { return this.call<T>('POST', path, body ?? {}) }
  put<T = unknown> (path: string, body: unknown): Promise<T> { return this.call<T>('PUT', path, body) }
  del<T = unknown> (path: string): Promise<T> { return this.call<T>('DELETE', path) }
}

export function resolveBaseUrl (dataDir: string): string {
  const pidFile = join(dataDir, 'daemon.json')
  if (existsSync(pidFile)) {
    try {
      const d = JSON.parse(readFileSync(pidFile, 'utf8')) as { apiPort: number, apiHost: string }
      const host = d.apiHost.includes(':') ? `[${d.apiHost}]` : d.apiHost
      return `http://${host}:${d.apiPort}`
    } catch { /* fall through to the default */ }
  }
  const port = process.env.CAIRN_API_PORT ?? '9473'
  return `http://127.0.0.1:${port}`
}

export function readToken (dataDir: string): string {
  const p = join(dataDir, 'api-token')
  if (!existsSync(p)) throw new CairnError('NOT_INITIALIZED', `no API token at ${p}: start the daemon once with \`cairn start --data-dir ${dataDir}\``)
  return readFileSync(p, 'utf8').trim()
}
