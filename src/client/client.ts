/**
 * The typed client of a cairn node's HTTP API. Every operation of the
 * contract (src/contract/routes.ts) is a method named by its operationId,
 * taking and returning the static types of the schemas the server validates
 * and documents with. Errors are CairnErrors carrying the server's code
 * (whatever it is: codes are not narrowed here) and the HTTP status in
 * `details.status`.
 *
 *   const c = new CairnClient({ dataDir: '~/.cairn' })   // or { baseUrl, token }
 *   const { id } = await c.createItem(gid, { content: 'hello' })
 */
import type { Static, TSchema } from '@sinclair/typebox'
// Types only: the schemas (typebox) stay unloaded in a client; route-table.ts has what runs.
import type { OperationId, Routes } from '../contract/routes.js'
import { defaultDataDir } from '../util/data-paths.js'
import { CairnError, type ErrorCode } from '../util/errors.js'
import { baseUrlOf, tokenOf, type Endpoint } from './endpoint.js'
import { EventStream } from './events.js'
import { routeTable } from './route-table.js'
import type { UnsealPendingView } from '../contract/models.js'

export interface CairnClientOptions {
  /** The API's origin, e.g. `http://127.0.0.1:9473`. Default: from the data dir's daemon.json, else port CAIRN_API_PORT or 9473. */
  baseUrl?: string
  /** The bearer token. Default: the content of `<dataDir>/api-token`. */
  token?: string
  /** The node's data dir, read (at each request) for what baseUrl/token leave out. Default: CAIRN_DATA_DIR or ~/.cairn. */
  dataDir?: string
  /** Per request, in ms (default 120,000: unseal and sync wait on peers). */
  timeoutMs?: number
  /** A fetch to use instead of the global one (tests wrap it to check every response). */
  fetch?: typeof fetch
}

type Spec<K extends OperationId> = Routes[K]
type ParamsOf<K extends OperationId> = Spec<K> extends { params: infer P extends TSchema } ? Static<P> : never
type QueryOf<K extends OperationId> = Spec<K> extends { query: infer Q extends TSchema } ? Static<Q> : never
/** The request body type of an operation. */
export type BodyOf<K extends OperationId> = Spec<K> extends { body: infer X extends TSchema } ? Static<X> : never
/** The success response type of an operation (Prometheus text is a string). */
export type ResponseOf<K extends OperationId> = Spec<K> extends { contentType: 'text/plain' } ? string : Static<Spec<K>['response']>
export type RequestArgs<K extends OperationId> =
  ([ParamsOf<K>] extends [never] ? unknown : { params: ParamsOf<K> }) &
  ([QueryOf<K>] extends [never] ? unknown : { query?: QueryOf<K> }) &
  ([BodyOf<K>] extends [never] ? unknown : { body: BodyOf<K> }) &
  { signal?: AbortSignal }

interface AnyArgs { params?: Record<string, string>, query?: Record<string, unknown>, body?: unknown, signal?: AbortSignal }

export class CairnClient {
  private readonly fixed: Partial<Endpoint>
  readonly dataDir: string
  private readonly timeoutMs: number
  private readonly fetchFn: typeof fetch

  constructor (o: CairnClientOptions = {}) {
    this.fixed = { ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl.replace(/\/+$/, '') } : {}), ...(o.token !== undefined ? { token: o.token } : {}) }
    this.dataDir = o.dataDir ?? defaultDataDir()
    this.timeoutMs = o.timeoutMs ?? 120_000
    this.fetchFn = o.fetch ?? fetch
  }

  /** Where the next request goes (re-read from the data dir unless fixed at construction). */
  endpoint (): Endpoint {
    const token = this.fixed.token ?? tokenOf(this.dataDir)
    return { baseUrl: this.fixed.baseUrl ?? baseUrlOf(this.dataDir), token }
  }

  /** Any operation by its operationId (the named methods below are this with positional arguments). */
  async call<K extends OperationId> (op: K, args?: RequestArgs<K>): Promise<ResponseOf<K>> {
    const [method, template, takesBody] = routeTable[op]
    const a = (args ?? {}) as AnyArgs
    const path = template.replace(/:(\w+)/g, (_, name: string) => {
      const v = a.params?.[name]
      if (typeof v !== 'string' || v === '') throw new CairnError('INVALID_INPUT', `${op}: the path parameter ${name} is required`)
      return encodeURIComponent(v)
    })
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(a.query ?? {})) if (v !== undefined && v !== null) q.set(k, String(v))
    const qs = q.toString()
    const body = takesBody ? (a.body ?? {}) : undefined
    return await this.send(method, qs === '' ? path : `${path}?${qs}`, body, a.signal) as ResponseOf<K>
  }

  /**
   * An untyped request, for a route newer than this client. Prefer the
   * typed methods: they follow the contract.
   */
  async send (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    return await this.read(await this.fetchRaw(method, path, { body, signal }), method, path)
  }

  /** A response's JSON (or text), or the CairnError its error envelope carries. */
  private async read (res: Response, method: string, path: string): Promise<unknown> {
    const text = await res.text()
    const ct = res.headers.get('content-type') ?? ''
    const json = ct.includes('application/json') && text !== '' ? parseJson(text, res.status) : undefined
    if (!res.ok) {
      const err = (json as { error?: { code?: unknown, message?: unknown, [k: string]: unknown } } | undefined)?.error
      if (err === undefined || typeof err.code !== 'string') throw new CairnError('INTERNAL', `HTTP ${res.status} from ${method} ${path}: ${text.slice(0, 200)}`, { status: res.status })
      const { code, message, ...rest } = err
      throw new CairnError(code as ErrorCode, typeof message === 'string' ? message : `HTTP ${res.status}`, { ...rest, status: res.status })
    }
    return json ?? text
  }

  /**
   * A JSON Lines answer (exports) as it arrives, with the response headers: a
   * large export never sits whole in memory. Errors as for every other call.
   */
  async lines (path: string, signal?: AbortSignal): Promise<{ headers: Headers, body: AsyncIterable<Uint8Array> }> {
    const res = await this.fetchRaw('GET', path, { signal, timeout: false })
    if (!res.ok || res.body === null) { await this.read(res, 'GET', path); throw new CairnError('INTERNAL', `HTTP ${res.status} from GET ${path} without a body`, { status: res.status }) }
    return { headers: res.headers, body: res.body as unknown as AsyncIterable<Uint8Array> }
  }

  get<T = unknown> (path: string): Promise<T> { return this.send('GET', path) as Promise<T> }
  post<T = unknown> (path: string, body?: unknown): Promise<T> { return this.send('POST', path, body ?? {}) as Promise<T> }
  put<T = unknown> (path: string, body: unknown): Promise<T> { return this.send('PUT', path, body) as Promise<T> }
  del<T = unknown> (path: string): Promise<T> { return this.send('DELETE', path) as Promise<T> }

  private async fetchRaw (method: string, path: string, o: { body?: unknown, signal?: AbortSignal | undefined, headers?: Record<string, string>, timeout?: boolean }): Promise<Response> {
    const { baseUrl, token } = this.endpoint()
    const signals = [...(o.timeout !== false ? [AbortSignal.timeout(this.timeoutMs)] : []), ...(o.signal !== undefined ? [o.signal] : [])]
    try {
      return await this.fetchFn(baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {})
      })
    } catch (e) {
      const err = e as { name?: string, message?: string, cause?: { code?: string } }
      if (err.name === 'TimeoutError') throw new CairnError('TIMEOUT', `the cairn daemon at ${baseUrl} did not answer ${method} ${path} within ${this.timeoutMs / 1000} s`)
      if (err.name === 'AbortError') throw e
      const where = `${baseUrl}${this.fixed.baseUrl === undefined ? ` (data dir ${this.dataDir})` : ''}`
      if (err.cause?.code === 'ECONNREFUSED') throw new CairnError('UNAVAILABLE', `no cairn daemon answers at ${where}; start it with \`cairn start --data-dir ${this.dataDir}\``)
      throw new CairnError('UNAVAILABLE', `cannot reach the cairn daemon at ${where}: ${err.cause?.code ?? err.message ?? String(e)}`)
    }
  }

  // ---- node ----
  health (): Promise<ResponseOf<'health'>> { return this.call('health') }
  getStatus (): Promise<ResponseOf<'getStatus'>> { return this.call('getStatus') }
  unlock (passphrase: string): Promise<ResponseOf<'unlock'>> { return this.call('unlock', { body: { passphrase } }) }
  lock (): Promise<ResponseOf<'lock'>> { return this.call('lock') }
  getJob (jobId: string): Promise<ResponseOf<'getJob'>> { return this.call('getJob', { params: { jobId } }) }
  /** Recent and unfinished background jobs, newest first. */
  listJobs (query: QueryOf<'listJobs'> = {}): Promise<ResponseOf<'listJobs'>> { return this.call('listJobs', { query }) }
  /** Stop the daemon as SIGTERM would (it answers first, then stops). */
  shutdown (): Promise<ResponseOf<'shutdown'>> { return this.call('shutdown') }
  getMetrics (): Promise<string> { return this.call('getMetrics') }
  getOpenApi (): Promise<ResponseOf<'getOpenApi'>> { return this.call('getOpenApi') }
  /** What happens on the node (records stored, jobs, lock/unlock), as an async iterator; `group` filters. */
  events (o: { group?: string, lastEventId?: string } = {}): EventStream {
    const path = routeTable.events[1] + (o.group !== undefined ? `?group=${encodeURIComponent(o.group)}` : '')
    return new EventStream(async (signal, last) => {
      const res = await this.fetchRaw('GET', path, { signal, timeout: false, headers: { accept: 'text/event-stream', ...(last !== undefined ? { 'last-event-id': last } : {}) } })
      if (!res.ok) await this.read(res, 'GET', path) // throws the server's error
      return res
    }, o.lastEventId)
  }

  // ---- network ----
  listPeers (): Promise<ResponseOf<'listPeers'>> { return this.call('listPeers') }
  dialPeer (multiaddr: string): Promise<ResponseOf<'dialPeer'>> { return this.call('dialPeer', { body: { multiaddr } }) }
  syncGroup (gid: string): Promise<ResponseOf<'syncGroup'>> { return this.call('syncGroup', { params: { gid } }) }
  /** Per keeper and member node of the group: connected, delivered, records behind, last sync, last error. */
  getReplication (gid: string): Promise<ResponseOf<'getReplication'>> { return this.call('getReplication', { params: { gid } }) }

  // ---- groups ----
  createGroup (body: BodyOf<'createGroup'>): Promise<ResponseOf<'createGroup'>> { return this.call('createGroup', { body }) }
  listGroups (): Promise<ResponseOf<'listGroups'>> { return this.call('listGroups') }
  getGroup (gid: string): Promise<ResponseOf<'getGroup'>> { return this.call('getGroup', { params: { gid } }) }
  addMember (gid: string, body: BodyOf<'addMember'>): Promise<ResponseOf<'addMember'>> { return this.call('addMember', { params: { gid }, body }) }
  removeMember (gid: string, entityId: string): Promise<ResponseOf<'removeMember'>> { return this.call('removeMember', { params: { gid, entityId } }) }
  addKeeper (gid: string, body: BodyOf<'addKeeper'>): Promise<ResponseOf<'addKeeper'>> { return this.call('addKeeper', { params: { gid }, body }) }
  removeKeeper (gid: string, peerId: string): Promise<ResponseOf<'removeKeeper'>> { return this.call('removeKeeper', { params: { gid, peerId } }) }
  rotateGroup (gid: string): Promise<ResponseOf<'rotateGroup'>> { return this.call('rotateGroup', { params: { gid } }) }
  /** Re-check every stored record of a group (signatures, rights, the append-only DAG; contents too with a key). */
  verifyGroup (gid: string): Promise<ResponseOf<'verifyGroup'>> { return this.call('verifyGroup', { params: { gid } }) }

  // ---- items ----
  createItem (gid: string, body: BodyOf<'createItem'>): Promise<ResponseOf<'createItem'>> { return this.call('createItem', { params: { gid }, body }) }
  listItems (gid: string, query: QueryOf<'listItems'> = {}): Promise<ResponseOf<'listItems'>> { return this.call('listItems', { params: { gid }, query }) }
  listRaw (gid: string, query: QueryOf<'listRaw'> = {}): Promise<ResponseOf<'listRaw'>> { return this.call('listRaw', { params: { gid }, query }) }
  getItem (id: string): Promise<ResponseOf<'getItem'>> { return this.call('getItem', { params: { id } }) }
  updateItem (id: string, body: BodyOf<'updateItem'>): Promise<ResponseOf<'updateItem'>> { return this.call('updateItem', { params: { id }, body }) }
  deleteItem (id: string): Promise<ResponseOf<'deleteItem'>> { return this.call('deleteItem', { params: { id } }) }
  shareItem (id: string, toGroup: string): Promise<ResponseOf<'shareItem'>> { return this.call('shareItem', { params: { id }, body: { toGroup } }) }
  /** Every item this node can read (or one group's), decrypted with provenance, as JSON Lines; header x-cairn-skipped names sealed circles left out. */
  exportItems (o: { group?: string, signal?: AbortSignal } = {}): Promise<{ headers: Headers, body: AsyncIterable<Uint8Array> }> {
    return this.lines(routeTable.exportItems[1] + (o.group !== undefined ? `?group=${encodeURIComponent(o.group)}` : ''), o.signal)
  }
  importItems (gid: string, items: BodyOf<'importItems'>['items']): Promise<ResponseOf<'importItems'>> { return this.call('importItems', { params: { gid }, body: { items } }) }
  /** Full-text search: every word of `q` must appear (whole words, case- and accent-insensitive). */
  /** Item IDs starting with `prefix` (at most 10), to accept short IDs as git does. */
  resolveIds (prefix: string): Promise<ResponseOf<'resolveIds'>> { return this.call('resolveIds', { query: { kind: 'item', prefix } }) }
  search (q: string, o: { group?: string, limit?: number } = {}): Promise<ResponseOf<'search'>> { return this.call('search', { query: { q, ...o } }) }

  // ---- circles ----
  /**
   * Rebuild a circle's key. When holders approve by hand and have not all
   * answered within `waitSeconds`, the answer is the progress (state "pending",
   * HTTP 202): follow it with unsealProgress.
   */
  unsealCircle (gid: string, o: { ttlSeconds?: number, waitSeconds?: number } = {}): Promise<ResponseOf<'unsealCircle'> | UnsealPendingView> {
    return this.call('unsealCircle', { params: { gid }, body: o }) as Promise<ResponseOf<'unsealCircle'> | UnsealPendingView>
  }
  unsealProgress (gid: string): Promise<ResponseOf<'unsealProgress'>> { return this.call('unsealProgress', { params: { gid } }) }
  cancelUnseal (gid: string): Promise<ResponseOf<'cancelUnseal'>> { return this.call('cancelUnseal', { params: { gid } }) }
  sealCircle (gid: string): Promise<ResponseOf<'sealCircle'>> { return this.call('sealCircle', { params: { gid } }) }
  setApproval (gid: string, policy: BodyOf<'setApproval'>['policy']): Promise<ResponseOf<'setApproval'>> { return this.call('setApproval', { params: { gid }, body: { policy } }) }
  listShareRequests (): Promise<ResponseOf<'listShareRequests'>> { return this.call('listShareRequests') }
  approveShareRequest (id: string): Promise<ResponseOf<'approveShareRequest'>> { return this.call('approveShareRequest', { params: { id } }) }
  denyShareRequest (id: string): Promise<ResponseOf<'denyShareRequest'>> { return this.call('denyShareRequest', { params: { id } }) }

  // ---- membership ----
  listInvites (): Promise<ResponseOf<'listInvites'>> { return this.call('listInvites') }
  acceptInvite (id: string): Promise<ResponseOf<'acceptInvite'>> { return this.call('acceptInvite', { params: { id } }) }
  declineInvite (id: string): Promise<ResponseOf<'declineInvite'>> { return this.call('declineInvite', { params: { id } }) }
  leaveGroup (gid: string): Promise<ResponseOf<'leaveGroup'>> { return this.call('leaveGroup', { params: { gid } }) }
  deleteGroup (gid: string): Promise<ResponseOf<'deleteGroup'>> { return this.call('deleteGroup', { params: { gid } }) }
  /** After an item was deleted: what each node holding copies of it did with them. */
  erasureReport (id: string): Promise<ResponseOf<'erasureReport'>> { return this.call('erasureReport', { params: { id } }) }

  // ---- audit ----
  listAudit (query: QueryOf<'listAudit'> = {}): Promise<ResponseOf<'listAudit'>> { return this.call('listAudit', { query }) }
  verifyAudit (): Promise<ResponseOf<'verifyAudit'>> { return this.call('verifyAudit') }
  /** The audit log as JSON Lines (checkpoints included), as it arrives. */
  exportAudit (o: { since?: number, signal?: AbortSignal } = {}): Promise<{ headers: Headers, body: AsyncIterable<Uint8Array> }> {
    return this.lines(routeTable.exportAudit[1] + (o.since !== undefined ? `?since=${o.since}` : ''), o.signal)
  }
}

function parseJson (text: string, status: number): unknown {
  try { return JSON.parse(text) } catch { throw new CairnError('INTERNAL', `HTTP ${status}: the daemon's answer is not valid JSON: ${text.slice(0, 200)}`, { status }) }
}
