/**
 * HTTP client for the local API: the CLI talks to the daemon only through this.
 * The address comes from <dataDir>/daemon.json (written by a running daemon,
 * so --api-port 0 works) or from the config; the token from <dataDir>/api-token.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../config/load.js'
import { CairnError, type ErrorCode } from '../util/errors.js'

export interface ClientOptions { dataDir: string, baseUrl?: string, token?: string, timeoutMs?: number }

export class ApiClient {
  readonly baseUrl: string
  private readonly token: string

  private readonly dataDir: string

  constructor (o: ClientOptions) {
    this.dataDir = o.dataDir
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
      const cause = (e as { cause?: { code?: string } }).cause?.code
      if (cause === 'ECONNREFUSED') throw new CairnError('UNAVAILABLE', `no cairn node is running on ${this.dataDir} (nothing answers at ${this.baseUrl}); start it with \`cairn start --data-dir ${this.dataDir}\``)
      const why = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message
      throw new CairnError('UNAVAILABLE', `cannot reach the cairn node of ${this.dataDir} at ${this.baseUrl} (${why}); if it is not running, start it with \`cairn start --data-dir ${this.dataDir}\``)
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

  get<T = unknown> (path: string): Promise<T> { return this.call<T>('GET', path) }
  post<T = unknown> (path: string, body?: unknown): Promise<T> { return this.call<T>('POST', path, body ?? {}) }
  put<T = unknown> (path: string, body: unknown): Promise<T> { return this.call<T>('PUT', path, body) }
  del<T = unknown> (path: string): Promise<T> { return this.call<T>('DELETE', path) }
}

/** Where the node of `dataDir` listens: its daemon.json when it runs, else its configuration (file, environment). */
export function resolveBaseUrl (dataDir: string): string {
  const url = (host: string, port: number): string => `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const pidFile = join(dataDir, 'daemon.json')
  if (existsSync(pidFile)) {
    try {
      const d = JSON.parse(readFileSync(pidFile, 'utf8')) as { apiPort: number, apiHost: string }
      return url(d.apiHost, d.apiPort)
    } catch { /* fall through to the configuration */ }
  }
  try {
    const c = loadConfig(dataDir)
    return url(c.api.host, c.api.port)
  } catch {
    return url('127.0.0.1', 9473)
  }
}

export function readToken (dataDir: string): string {
  const p = join(dataDir, 'api-token')
  if (!existsSync(p)) {
    if (!existsSync(join(dataDir, 'identity.json'))) throw new CairnError('NOT_INITIALIZED', `${dataDir} holds no cairn node; create one with \`cairn init --data-dir ${dataDir}\``)
    throw new CairnError('UNAVAILABLE', `no cairn node is running on ${dataDir} (it was never started: no API token yet); start it with \`cairn start --data-dir ${dataDir}\``)
  }
  return readFileSync(p, 'utf8').trim()
}
