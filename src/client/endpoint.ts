/**
 * Where a node's API is and which token it takes, read from its data dir:
 * `daemon.json` (written by the running daemon, so `--api-port 0` works) and
 * `api-token`. Read at each request, not once: a long-lived client (the MCP
 * server) keeps working when the daemon restarts on another port.
 * Order matters: the token first (a missing one says whether the dir is a
 * node at all), then the address.
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
    } catch { /* a half-written or foreign file: as if absent */ }
  }
  // No daemon.json: no daemon runs on this dir. Port 9473 may belong to another
  // node's daemon, which must not be sent this node's token; only an explicit
  // CAIRN_API_PORT says where to go.
  if (env.CAIRN_API_PORT !== undefined && env.CAIRN_API_PORT !== '') return `http://127.0.0.1:${env.CAIRN_API_PORT}`
  throw new CairnError('UNAVAILABLE', `no cairn daemon is running on ${dataDir} (a running daemon writes ${file}); start it with \`cairn start --data-dir ${dataDir}\``)
}

export function tokenOf (dataDir: string): string {
  const p = dataPaths(dataDir)
  if (!existsSync(p.apiToken)) {
    // The daemon writes the token at its first start: an initialized node that never ran has none yet.
    if (existsSync(p.nodeKey)) throw new CairnError('UNAVAILABLE', `no cairn daemon has run on ${dataDir} yet (no ${p.apiToken}); start it with \`cairn start --data-dir ${dataDir}\``)
    throw new CairnError('NOT_INITIALIZED', `${dataDir} is not a cairn data dir (no ${p.apiToken}); create a node with \`cairn init --data-dir ${dataDir}\`, then \`cairn start --data-dir ${dataDir}\``)
  }
  return readFileSync(p.apiToken, 'utf8').trim()
}

export function endpointOf (dataDir: string, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const token = tokenOf(dataDir)
  return { baseUrl: baseUrlOf(dataDir, env), token }
}
