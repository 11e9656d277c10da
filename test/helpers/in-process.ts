/**
 * An in-process node for faster integration tests: a real Daemon (real SQLite
 * file, real HTTP server on a free port) in this process. Use test/helpers/cli.ts
 * when a test needs a separate OS process (kill -9, CLI behaviour).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Daemon } from '../../src/node/daemon.js'
import { initNode } from '../../src/node/init.js'
import { silentLogger } from '../../src/util/logger.js'
import { PASSPHRASE, tempDir, type ApiResponse } from './cli.js'
import { checkResponse } from './openapi-check.js'

export interface LocalNode {
  daemon: Daemon
  dataDir: string
  entityId: string | null
  personalGroupId: string | null
  token: string
  api: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResponse>
  ok: (method: string, path: string, body?: unknown) => Promise<any>
  stop: () => Promise<void>
}

export async function localNode (o: { keeper?: boolean, passphrase?: string | null, dataDir?: string, env?: NodeJS.ProcessEnv } = {}): Promise<LocalNode> {
  const dataDir = o.dataDir ?? tempDir()
  const keeper = o.keeper === true
  const init = o.dataDir === undefined ? await initNode({ dataDir, keeper, ...(keeper ? {} : { passphrase: PASSPHRASE }), env: {} }) : undefined
  const passphrase = keeper || o.passphrase === null ? undefined : (o.passphrase ?? PASSPHRASE)
  const daemon = await Daemon.start({
    dataDir, env: o.env ?? {}, log: silentLogger(),
    flags: { api: { port: 0 }, network: { listen: ['/ip4/127.0.0.1/tcp/0'] }, ...(keeper ? { node: { keeper: true } } : {}) },
    ...(passphrase !== undefined ? { passphrase } : {})
  })
  const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim()
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> => {
    const res = await fetch(`http://127.0.0.1:${daemon.apiPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {})
    })
    const text = await res.text()
    checkResponse(method, path, res.status, res.headers.get('content-type'), text)
    let json: any
    try { json = JSON.parse(text) } catch { json = undefined }
    return { status: res.status, json, text, headers: res.headers }
  }
  return {
    daemon, dataDir, token, api,
    entityId: init?.entityId ?? daemon.identity.entityId,
    personalGroupId: init?.personalGroupId ?? daemon.identity.personalGroupId,
    ok: async (method, path, body) => {
      const r = await api(method, path, body)
      if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} → ${r.status}: ${r.text}`)
      return r.json
    },
    stop: () => daemon.stop()
  }
}
