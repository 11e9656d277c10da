/** What every CLI verb gets: resolved data dir, output mode, and a lazily built API client. */
import type { Command } from 'commander'
import { resolve } from 'node:path'
import { CairnClient } from '../client/client.js'
import { defaultDataDir } from '../util/data-paths.js'
import type { OutputOptions } from './output.js'

export interface CliContext extends OutputOptions {
  dataDir: string
  client: () => CairnClient
  tty: boolean
}

export function contextOf (cmd: Command): CliContext {
  const g = cmd.optsWithGlobals<{ dataDir?: string, json?: boolean }>()
  const dataDir = resolve(g.dataDir ?? defaultDataDir())
  let c: CairnClient | undefined
  return { dataDir, json: g.json === true, tty: process.stderr.isTTY === true && g.json !== true, client: () => (c ??= new CairnClient({ dataDir })) }
}
