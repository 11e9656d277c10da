/** Wrap a commander action: errors become a clear message (or JSON) and an exit code. */
import type { Command } from 'commander'
import { resolve } from 'node:path'
import { defaultDataDir } from '../util/data-paths.js'
import { explainNotRunning } from './daemon-file.js'
import { reportError } from './output.js'

type Action = (...args: any[]) => Promise<void>

export function run (fn: Action, o: { keepAlive?: boolean } = {}): Action {
  return async (...args: any[]) => {
    const cmd = args[args.length - 1] as Command
    const g = cmd.optsWithGlobals<{ json?: boolean, dataDir?: string }>()
    const json = g.json === true
    try {
      await fn(...args)
      if (o.keepAlive === true) process.exit(0)
    } catch (e) {
      process.exitCode = reportError({ json }, await explainNotRunning(resolve(g.dataDir ?? defaultDataDir()), e))
      if (o.keepAlive === true) process.exit(process.exitCode)
    }
  }
}
