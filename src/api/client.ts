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

  async call<T = unknown> (method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs)
      })
    } catch (e) {
      throw this.unreachable(e)
    }
    const text = await res.text()
    const ct = res.headers.get('content-type') ?? ''
    if (!ct.includes('application/json')) {
      if (!res.ok) throw new CairnError('INTERNAL', `HTTP ${res.status}: ${text.slice(0, 200)}`)
      return text as T
    }
    const json = text === '' ? undefined : JSON.parse(text) as unknown
    if (!res.ok) {
      const err = (json as { error?: { code?: string, message?: string } })?.error
      throw new CairnError((err?.code ?? 'INTERNAL') as ErrorCode, err?.message ?? `HTTP ${res.status}`, { status: res.status })
    }
    return json as T
  }

  /**
   * GET a streamed body (JSON Lines export) without buffering it: chunks as
   * they arrive. An error status still gives the contract's error.
   */
  async stream (path: string): Promise<AsyncIterable<Uint8Array>> {
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, { headers: { authorization: `Bearer ${this.token}` } })
    } catch (e) {
      throw this.unreachable(e)
    }
    if (!res.ok || res.body === null) {
      const text = await res.text()
      let err: { code?: string, message?: string } | undefined
      try { err = (JSON.parse(text) as { error?: { code?: string, message?: string } }).error } catch {}
      throw new CairnError((err?.code ?? 'INTERNAL') as ErrorCode, err?.message ?? `HTTP ${res.status}`, { status: res.status })
    }
    return res.body as unknown as AsyncIterable<Uint8Array>
  }

  private unreachable (e: unknown): CairnError {
    const cause = (e as { cause?: { code?: string } }).cause?.code
    if (cause === 'ECONNREFUSED') return new CairnError('UNAVAILABLE', `no cairn daemon answers at ${this.baseUrl}; start one with \`cairn start\``)
    return new CairnError('UNAVAILABLE', `cannot reach the cairn daemon at ${this.baseUrl}: ${(e as Error).message}`)
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
