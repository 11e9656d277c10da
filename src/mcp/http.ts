/**
 * `cairn mcp --http`: the MCP server over streamable HTTP (the SDK's
 * transport, one per session), for MCP clients that connect to a URL.
 *
 * Checks on every request, in this order, as the node's API does:
 *   Host is a loopback name (DNS rebinding) · an Origin, if sent, is a
 *   loopback origin (a web page cannot drive it) · `Authorization: Bearer`
 *   with the node's API token (<dataDir>/api-token) · body ≤ 4 MiB of JSON.
 * It listens on 127.0.0.1 only. At most MAX_SESSIONS sessions at once; a
 * session ends when its client sends DELETE, after IDLE_MS without a
 * request (a client that vanished must not hold a slot), or when the server stops.
 */
import { randomUUID, createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { hostIsLoopback } from '../util/loopback.js'
import { CairnError } from '../util/errors.js'
import { createMcpServer, type CairnMcpServer, type McpOptions } from './server.js'

export const MCP_PATH = '/mcp'
const MAX_BODY = 4 << 20
const MAX_SESSIONS = 64
const IDLE_MS = 30 * 60_000

export interface McpHttp { url: string, port: number, close: () => Promise<void> }

export async function serveHttp (o: McpOptions & { port: number, token: string }): Promise<McpHttp> {
  const digest = createHash('sha256').update(o.token).digest()
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport, mcp: CairnMcpServer, seen: number }>()
  const sweep = setInterval(() => {
    for (const s of sessions.values()) if (Date.now() - s.seen > IDLE_MS) void s.mcp.server.close().catch(() => {})
  }, Math.min(IDLE_MS, 60_000))
  sweep.unref()

  const refuse = (res: ServerResponse, status: number, code: string, message: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: `${code}: ${message}`, data: { code } }, id: null }))
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostIsLoopback(req.headers.host)) { refuse(res, 403, 'HOST_NOT_ALLOWED', 'this server answers only requests addressed to a loopback host (localhost, 127.0.0.1, [::1])'); return }
    const origin = req.headers.origin
    if (origin !== undefined && origin !== 'null' && !originIsLoopback(origin)) { refuse(res, 403, 'FORBIDDEN', `requests from the web origin ${origin.slice(0, 100)} are refused`); return }
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
    if (m === null || !timingSafeEqual(createHash('sha256').update(m[1]!).digest(), digest)) {
      refuse(res, 401, 'UNAUTHORIZED', `send "Authorization: Bearer <token>" with the content of ${o.dataDir}/api-token`); return
    }
    if ((req.url ?? '').split('?')[0] !== MCP_PATH) { refuse(res, 404, 'NOT_FOUND', `the MCP endpoint is ${MCP_PATH}`); return }
    const body = req.method === 'POST' ? await readJson(req) : undefined
    const sid = req.headers['mcp-session-id']
    const known = typeof sid === 'string' ? sessions.get(sid) : undefined
    if (known !== undefined) { known.seen = Date.now(); await known.transport.handleRequest(req, res, body); return }
    if (typeof sid === 'string') { refuse(res, 404, 'NOT_FOUND', 'no such session (it ended): initialize a new one'); return }
    if (req.method !== 'POST' || !isInitializeRequest(body)) { refuse(res, 400, 'INVALID_INPUT', 'no session: the first request must be an initialize request (POST)'); return }
    if (sessions.size >= MAX_SESSIONS) { refuse(res, 503, 'UNAVAILABLE', `${MAX_SESSIONS} sessions are open: close one (DELETE ${MCP_PATH}) first`); return }
    const mcp = createMcpServer(o)
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: id => { sessions.set(id, { transport, mcp, seen: Date.now() }) }
    })
    transport.onclose = () => { if (transport.sessionId !== undefined) sessions.delete(transport.sessionId) }
    await mcp.server.connect(transport)
    await transport.handleRequest(req, res, body)
  }

  const http: HttpServer = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof CairnError ? e : new CairnError('INTERNAL', (e as Error).message)
      if (!res.headersSent) refuse(res, err.code === 'TOO_LARGE' ? 413 : err.code === 'INVALID_INPUT' ? 400 : 500, err.code, err.message)
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(o.port, '127.0.0.1', resolve) })
  const port = (http.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}${MCP_PATH}`,
    port,
    close: async () => {
      clearInterval(sweep)
      for (const { mcp } of sessions.values()) { await mcp.drain(); await mcp.server.close().catch(() => {}) }
      http.closeAllConnections()
      await new Promise<void>(resolve => http.close(() => resolve()))
    }
  }
}

function originIsLoopback (origin: string): boolean {
  try { return hostIsLoopback(new URL(origin).host) } catch { return false }
}

async function readJson (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req) {
    n += (c as Buffer).length
    if (n > MAX_BODY) throw new CairnError('TOO_LARGE', `the request body is over ${MAX_BODY >> 20} MiB`)
    chunks.push(c as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  try { return JSON.parse(text) } catch { throw new CairnError('INVALID_INPUT', 'the request body is not valid JSON') }
}
