/** The layout of a data directory (the daemon writes it; the client reads daemon.json and api-token from it). */
import { join } from 'node:path'
import { homedir } from 'node:os'

export interface DataPaths {
  dir: string, config: string, nodeKey: string, vault: string, db: string, apiToken: string, identity: string, pid: string, log: string
}

export function dataPaths (dir: string): DataPaths {
  return {
    dir,
    config: join(dir, 'config.toml'),
    nodeKey: join(dir, 'node.key'),
    vault: join(dir, 'vault.cbor'),
    db: join(dir, 'cairn.db'),
    apiToken: join(dir, 'api-token'),
    identity: join(dir, 'identity.json'),
    pid: join(dir, 'daemon.json'),
    log: join(dir, 'cairn.log')
  }
}

export const defaultDataDir = (env: NodeJS.ProcessEnv = process.env): string => env.CAIRN_DATA_DIR ?? join(homedir(), '.cairn')
