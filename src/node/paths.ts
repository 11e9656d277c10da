/** The layout of a data directory. */
import { basename, dirname, join, resolve } from 'node:path'
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

/** Where `cairn recover` builds a node for `dir` before renaming it there (same parent: the rename is atomic). */
export function recoveryWorkDir (dir: string): string {
  const d = resolve(dir)
  return join(dirname(d), `.${basename(d)}.recovering`)
}
