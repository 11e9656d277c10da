/**
 * cairn's MCP server (SPEC §7.2), on the official SDK's low-level Server:
 * the tools' JSON Schemas are the TypeBox schemas of tools.ts, served as
 * they are and checked here, so a bad argument is a tool error with the code
 * INVALID_INPUT, like every other cairn error.
 *
 * Results: the answer as JSON text and as `structuredContent` (matching the
 * tool's outputSchema). A cairn error is a result with `isError: true` whose
 * text is `{"error":{"code","message","hint"?}}`; it has no structuredContent,
 * which the SDK's client would check against the success schema.
 *
 * Resources: the groups and the memories, read-only (resources.ts).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import {
  CallToolRequestSchema, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ListToolsRequestSchema,
  ErrorCode, McpError, ReadResourceRequestSchema, type CallToolResult
} from '@modelcontextprotocol/sdk/types.js'
import { Value } from '@sinclair/typebox/value'
import type { CairnClient } from '../client/client.js'
import { assertBoundedStructure } from '../util/bounds.js'
import { CairnError, isCairnError } from '../util/errors.js'
import { listResources, readResource, RESOURCE_TEMPLATES } from './resources.js'
import { TOOLS } from './tools.js'

/** MCP's "resource not found" JSON-RPC error code. */
const RESOURCE_NOT_FOUND = -32002

export interface McpOptions {
  client: CairnClient
  /** Shown to the person in hints (`cairn unlock --data-dir …`). */
  dataDir: string
  version: string
}

const INSTRUCTIONS = 'cairn is the person\'s long-term memory: end-to-end encrypted, kept on their own devices and on keeper nodes that cannot read it, ' +
  'and shared with exactly the members of a group. Use recall before answering questions about the person, their work or earlier decisions; ' +
  'use remember for what is worth keeping (one self-contained fact per memory). Memory goes to the personal group unless it belongs to a shared group ' +
  '(list_groups). recall is a keyword search: every word of the query must appear.'

/** What the person (not the agent) can do about an error; the agent relays it. */
function hintFor (code: string, dataDir: string): string | undefined {
  const dd = ` --data-dir ${dataDir}`
  switch (code) {
    case 'VAULT_LOCKED': return `the person's vault is locked: ask them to run \`cairn unlock${dd}\` (an agent never holds the passphrase), then try again`
    case 'UNAVAILABLE': return `the cairn daemon is not running: ask the person to start it with \`cairn start${dd}\``
    case 'NOT_INITIALIZED': return `this data dir has no cairn node: the person creates one with \`cairn init${dd}\``
    case 'UNAUTHORIZED': return `the API token in ${dataDir}/api-token does not match the running daemon's: is the MCP server configured with the right --data-dir?`
    case 'CIRCLE_SEALED': return 'this group is a circle and is sealed: the person can open it for a while with `cairn circle unseal <groupId>`'
    case 'FORBIDDEN': return 'your role in this group does not allow it (viewers only read; members change only their own memories)'
    case 'NOT_FOUND': return 'check the id or group; recall, list_memories and list_groups show what exists'
    case 'APPEND_ONLY': return 'this group keeps an append-only log: remember a correction instead of changing or deleting'
    default: return undefined
  }
}

export function toolError (e: unknown, dataDir: string): CallToolResult {
  const err = isCairnError(e) ? e : new CairnError('INTERNAL', e instanceof Error ? e.message : String(e))
  const hint = hintFor(err.code, dataDir)
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error: { code: err.code, message: err.message, ...(hint !== undefined ? { hint } : {}) } }) }] }
}

function checkArgs (schema: Parameters<typeof Value.Check>[0], args: unknown): void {
  if (Value.Check(schema, args)) return
  const first = Value.Errors(schema, args).First()
  const where = first?.path !== undefined && first.path !== '' ? `${first.path.slice(1)}: ` : ''
  throw new CairnError('INVALID_INPUT', `invalid arguments: ${where}${first?.message ?? 'they do not match the tool\'s input schema'}`)
}

export interface CairnMcpServer {
  server: Server
  /** Settles when no tool call is running (before a transport closes, so no answer is dropped). */
  drain: () => Promise<void>
}

/** A new MCP server over `client`; connect it to one transport (stdio, or one streamable-HTTP session). */
export function createMcpServer (o: McpOptions): CairnMcpServer {
  const running = new Set<Promise<unknown>>()
  const track = <X>(p: Promise<X>): Promise<X> => { running.add(p); void p.finally(() => running.delete(p)).catch(() => {}); return p }
  const server = new Server({ name: 'cairn', title: 'cairn memory', version: o.version }, {
    capabilities: { tools: { listChanged: false }, resources: { listChanged: false } },
    instructions: INSTRUCTIONS
  })
  const byName = new Map(TOOLS.map(t => [t.name, t]))
  const json = (s: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(s)) as Record<string, unknown>

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: TOOLS.map(t => ({ name: t.name, title: t.title, description: t.description, inputSchema: json(t.input) as { type: 'object' }, outputSchema: json(t.output) as { type: 'object' }, annotations: t.annotations }))
  }))

  server.setRequestHandler(CallToolRequestSchema, (req) => track(call(req.params.name, req.params.arguments)))
  async function call (name: string, a: Record<string, unknown> = {}): Promise<CallToolResult> {
    const tool = byName.get(name)
    if (tool === undefined) return toolError(new CairnError('NOT_FOUND', `no tool ${name}; the tools are ${TOOLS.map(t => t.name).join(', ')}`), o.dataDir)
    try {
      // Depth-bounded before anything recurses into it (schema check, JSON.stringify to the node).
      assertBoundedStructure(a, `the arguments of ${name}`)
      checkArgs(tool.input, a)
      const out = await tool.run(a as never, o.client) as Record<string, unknown>
      return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out }
    } catch (e) {
      return toolError(e, o.dataDir)
    }
  }

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: await listResources(o.client) }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: RESOURCE_TEMPLATES }))
  server.setRequestHandler(ReadResourceRequestSchema, async req => {
    try {
      return { contents: [await readResource(o.client, req.params.uri)] }
    } catch (e) {
      // Resources have no isError: a JSON-RPC error carries the cairn code in its data.
      const err = isCairnError(e) ? e : new CairnError('INTERNAL', String(e))
      const hint = hintFor(err.code, o.dataDir)
      throw new McpError(err.code === 'NOT_FOUND' ? RESOURCE_NOT_FOUND : ErrorCode.InternalError, `${err.code}: ${err.message}${hint !== undefined ? ` (${hint})` : ''}`, { code: err.code })
    }
  })
  return { server, drain: async () => { while (running.size > 0) await Promise.allSettled([...running]) } }
}
