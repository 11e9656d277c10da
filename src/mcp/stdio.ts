/**
 * `cairn mcp`: the MCP server on stdin/stdout (one client, the process that
 * spawned us). stdout carries only JSON-RPC; everything for people goes to
 * stderr. When stdin ends (the client went away) the server lets running
 * tool calls answer, then the process exits.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { createMcpServer, type McpOptions } from './server.js'

export async function serveStdio (o: McpOptions & { log: (line: string) => void }): Promise<void> {
  const { server, drain } = createMcpServer(o)
  const ended = new Promise<void>(resolve => {
    process.stdin.once('end', resolve)
    process.stdin.once('close', resolve)
    server.onclose = resolve
  })
  await server.connect(new StdioServerTransport())
  await announce(o)
  await ended
  await drain()
  await server.close()
}

/** One line on stderr: which node the tools will reach, or why they will fail until it runs. */
export async function announce (o: McpOptions & { log: (line: string) => void }, via = 'stdio'): Promise<void> {
  try {
    const s = await o.client.getStatus()
    o.log(`cairn mcp ${o.version}: ${via}, node ${s.peerId} (data dir ${o.dataDir}, ${s.keeper ? 'keeper' : s.unlocked ? 'unlocked' : 'vault locked: tools answer VAULT_LOCKED until `cairn unlock`'})`)
  } catch (e) {
    o.log(`cairn mcp ${o.version}: ${via}; warning: ${(e as Error).message} (tools answer with this error until it is fixed)`)
  }
}
