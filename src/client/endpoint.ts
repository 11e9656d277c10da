/**
 * Where a node's API is and which token it takes, read from its data dir:
 * `daemon.json` (written by the running daemon, so `--api-port 0` works) and
 * `api-token`. Read at each request, not once: a long-lived client (the MCP
 * server) keeps working when the daemon restarts on another port.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dataPaths } from '../util/data-paths.js'
import { CairnError } from '../util/errors.js'

export interface Endpoint { baseUrl: string, token: string }

export function baseUrlOf (dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = dataPaths(dataDir).pid
  if (existsSync(file)) {
    try {
      const d = JSON.parse(readFileSync(file, 'utf8')) as { apiPort: number, apiHost: string }
      if (Number.isInteger(d.apiPort) && typeof d.apiHost === 'string') {
        const host = d.apiHost.includes(':') ? `[${d.apiHost}]` : d.apiHost
        return `http://${host}:${d.apiPort}`
      }
    } catch { /* a half-written or foreign file: fall back to the default port */ }
  }
  return `http://127.0.0.1:${env.CAIRN_API_PORT ?? '9473'}`
}

export function tokenOf (dataDir: string): string {
  const file = dataPaths(dataDir).apiToken
  if (!existsSync(file)) throw new CairnError('NOT_INITIALIZED', `no API token at ${file}: is ${dataDir} a cairn data dir? Run \`cairn init --data-dir ${dataDir}\`, then \`cairn start --data-dir ${dataDir}\``)
  return readFileSync(file, 'utf8').trim()
}

export function endpointOf (dataDir: string, env: NodeJS.ProcessEnv = process.env): Endpoint {
  return { baseUrl: baseUrlOf(dataDir, env), token: tokenOf(dataDir) }
}
