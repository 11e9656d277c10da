/**
 * `cairn mcp` (SPEC §7.2): the MCP server for AI agents, talking to the
 * daemon of --data-dir through the typed client. stdio by default (an MCP
 * client spawns it); `--http` serves streamable HTTP on 127.0.0.1 instead.
 * It starts even when no daemon runs: the tools then answer UNAVAILABLE
 * with what to do, and work as soon as the daemon is up.
 */
import type { Command } from 'commander'
import { tokenOf } from '../../client/endpoint.js'
import { VERSION } from '../../node/version.js'
import { InvalidInputError } from '../../util/errors.js'
import { contextOf } from '../context.js'
import { emit } from '../output.js'
import { run } from '../run.js'

export const MCP_HTTP_PORT = 9475

export function mcpCommand (program: Command): void {
  program.command('mcp')
    .description('a Model Context Protocol server for AI agents on stdio (or streamable HTTP with --http), over the daemon of --data-dir')
    .option('--http', 'serve streamable HTTP on 127.0.0.1 instead of stdio (bearer token: the node\'s <dataDir>/api-token)')
    .option('--port <port>', `with --http: the port (0 = any free port)`, String(MCP_HTTP_PORT))
    .action(run(async (o: { http?: boolean, port: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const log = (line: string): void => { process.stderr.write(line + '\n') }
      const base = { client: ctx.client(), dataDir: ctx.dataDir, version: VERSION, log }
      // Loaded here: the other verbs need not load the MCP SDK.
      if (o.http !== true) {
        const { serveStdio } = await import('../../mcp/stdio.js')
        await serveStdio(base)
        return
      }
      const port = Number(o.port)
      if (!/^\d{1,5}$/.test(o.port) || port > 65535) throw new InvalidInputError(`--port must be a port number from 0 to 65535, got ${o.port}`)
      const [{ serveHttp }, { announce }] = await Promise.all([import('../../mcp/http.js'), import('../../mcp/stdio.js')])
      const h = await serveHttp({ ...base, port, token: tokenOf(ctx.dataDir) })
      const stopped = new Promise<void>(resolve => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
      emit(ctx, { url: h.url, port: h.port, dataDir: ctx.dataDir }, () => `cairn mcp: streamable HTTP at ${h.url}\n  token: Authorization: Bearer <the content of ${ctx.dataDir}/api-token>`)
      await announce(base, `streamable HTTP at ${h.url}`)
      await stopped
      await h.close()
    }, { keepAlive: true }))
}
