/**
 * The client side of `cairn mcp`, as an agent host runs it: the SDK's Client
 * over stdio, spawning `cairn mcp --data-dir <dir>`. Used by `cairn demo
 * --agents`, the tests and the benchmark; an agent developer's host (Claude
 * Desktop, Cursor, …) does the same from its `mcpServers` configuration.
 */
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { CairnError, type ErrorCode } from '../util/errors.js'

/** bin/cairn of this checkout (from dist/mcp/ and from src/mcp/ alike). */
export const CAIRN_BIN = fileURLToPath(new URL('../../bin/cairn', import.meta.url))

export interface McpSession {
  client: Client
  /** What the server wrote on stderr so far. */
  stderr: () => string
  /** A tool's structuredContent; a cairn error (isError) is thrown as a CairnError with its code. */
  call: <T = Record<string, unknown>>(tool: string, args?: Record<string, unknown>) => Promise<T>
  close: () => Promise<void>
}

export async function connectMcp (o: { dataDir: string, name: string, command?: string, args?: string[], env?: Record<string, string> }): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: o.command ?? process.execPath,
    args: o.args ?? [CAIRN_BIN, 'mcp', '--data-dir', o.dataDir],
    ...(o.env !== undefined ? { env: o.env } : {}),
    stderr: 'pipe'
  })
  let err = ''
  transport.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8') })
  const client = new Client({ name: o.name, version: '1.0.0' })
  await client.connect(transport)
  return {
    client,
    stderr: () => err,
    call: async <T>(tool: string, args: Record<string, unknown> = {}): Promise<T> => {
      const r = await client.callTool({ name: tool, arguments: args }) as CallToolResult
      if (r.isError === true) throw errorOf(r)
      return r.structuredContent as T
    },
    close: async () => { await client.close() }
  }
}

/** The CairnError a tool's isError result carries. */
export function errorOf (r: CallToolResult): CairnError {
  const text = r.content.find(c => c.type === 'text')?.text ?? ''
  try {
    const e = (JSON.parse(text) as { error: { code: string, message: string, hint?: string } }).error
    return new CairnError(e.code as ErrorCode, e.message, e.hint !== undefined ? { hint: e.hint } : undefined)
  } catch { return new CairnError('INTERNAL', text.slice(0, 500)) }
}
