/**
 * `cairn mcp` as an agent host runs it: the SDK's Client over stdio spawning the
 * real CLI, against a real daemon (SPEC §7.2). Also resources, errors as isError
 * results with codes, no daemon, exit on stdin close, and `--http`.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { connectMcp, errorOf, type McpSession } from '../../src/mcp/connect.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { rawRequest } from '../helpers/http.js'
import { BIN, initNodeDir, PASSPHRASE, stopAll, waitFor } from '../helpers/cli.js'

let n: LocalNode
let agent: McpSession
const sessions: McpSession[] = []

before(async () => {
  n = await localNode()
  agent = await connectMcp({ dataDir: n.dataDir, name: 'test-agent' })
  sessions.push(agent)
})
after(async () => {
  for (const s of sessions) await s.close().catch(() => {})
  await n?.stop()
  await stopAll()
})

const raw = async (tool: string, args: Record<string, unknown> = {}): Promise<CallToolResult> => await agent.client.callTool({ name: tool, arguments: args }) as CallToolResult
async function errCode (tool: string, args: Record<string, unknown> = {}): Promise<{ code: string, message: string, hint?: string }> {
  const r = await raw(tool, args)
  assert.equal(r.isError, true, `${tool} should fail: ${JSON.stringify(r)}`)
  assert.equal(r.structuredContent, undefined)
  const e = errorOf(r)
  return { code: e.code, message: e.message, ...(e.details?.hint !== undefined ? { hint: String(e.details.hint) } : {}) }
}

test('tools/list: the eight contract tools, each with input and output JSON Schemas and a description for the model', async () => {
  const { tools } = await agent.client.listTools()
  assert.deepEqual(tools.map(t => t.name).sort(), ['forget', 'get_memory', 'list_groups', 'list_memories', 'recall', 'remember', 'share_memory', 'update_memory'])
  const want: Record<string, { props: string[], required: string[] }> = {
    remember: { props: ['content', 'group', 'type', 'meta'], required: ['content'] },
    recall: { props: ['query', 'group', 'limit'], required: ['query'] },
    get_memory: { props: ['id'], required: ['id'] },
    list_memories: { props: ['group', 'type', 'limit', 'cursor'], required: [] },
    update_memory: { props: ['id', 'content', 'meta'], required: ['id', 'content'] },
    forget: { props: ['id'], required: ['id'] },
    list_groups: { props: [], required: [] },
    share_memory: { props: ['id', 'toGroup'], required: ['id', 'toGroup'] }
  }
  for (const t of tools) {
    const w = want[t.name]!
    assert.equal(t.inputSchema.type, 'object')
    assert.deepEqual(Object.keys(t.inputSchema.properties ?? {}).sort(), [...w.props].sort(), `${t.name} arguments`)
    assert.deepEqual([...(t.inputSchema.required ?? [])].sort(), [...w.required].sort(), `${t.name} required`)
    assert.equal(t.outputSchema?.type, 'object', `${t.name} has an outputSchema`)
    assert.ok((t.description ?? '').length > 80, `${t.name} is described for a model`)
  }
  const recall = tools.find(t => t.name === 'recall')!
  assert.match(recall.description!, /every word/i, 'recall says what it matches')
  assert.match(String((tools.find(t => t.name === 'remember')!.inputSchema.properties as any).group.description), /personal/, 'remember says which group to use when')
  assert.equal(recall.annotations?.readOnlyHint, true)
  assert.equal(tools.find(t => t.name === 'forget')!.annotations?.destructiveHint, true)
})

test('remember → recall finds it → update_memory → get_memory shows the update and provenance → forget → recall finds nothing', async () => {
  const r = await raw('remember', { content: 'The quarterly planning offsite moved to Lisbon in March.', type: 'fact', meta: { source: 'email' } })
  assert.notEqual(r.isError, true, JSON.stringify(r))
  assert.deepEqual(JSON.parse((r.content[0] as { text: string }).text), r.structuredContent, 'the same JSON as text and as structuredContent')
  const m = r.structuredContent as { id: string, groupId: string }
  assert.deepEqual(Object.keys(m).sort(), ['groupId', 'id'])
  assert.equal(m.groupId, n.personalGroupId, 'no group given: the personal group')

  const found = await agent.call<{ results: Array<{ id: string, groupId: string, snippet: string, score: number }> }>('recall', { query: 'offsite Lisbon' })
  assert.equal(found.results.length, 1)
  assert.deepEqual(Object.keys(found.results[0]!).sort(), ['groupId', 'id', 'score', 'snippet'])
  assert.equal(found.results[0]!.id, m.id)
  assert.match(found.results[0]!.snippet, /\[Lisbon\]/)
  assert.deepEqual((await agent.call<{ results: unknown[] }>('recall', { query: 'offsite Porto' })).results, [], 'every word must appear')

  await agent.call('update_memory', { id: m.id, content: 'The quarterly planning offsite moved to Porto in April.' })
  const got = await agent.call<{ content: string, type: string, meta: unknown, author: string, provenance: Array<{ action: string, by: string }> }>('get_memory', { id: m.id })
  assert.equal(got.content, 'The quarterly planning offsite moved to Porto in April.')
  assert.equal(got.type, 'fact')
  assert.deepEqual(got.meta, { source: 'email' })
  assert.equal(got.author, n.entityId)
  assert.deepEqual(got.provenance.map(p => [p.action, p.by]), [['created', n.entityId], ['modified', n.entityId]])
  assert.equal((await agent.call<{ results: Array<{ id: string }> }>('recall', { query: 'offsite Porto' })).results[0]?.id, m.id)

  const gone = await agent.call<{ id: string, deleted: boolean }>('forget', { id: m.id })
  assert.deepEqual([gone.id, gone.deleted], [m.id, true])
  assert.deepEqual((await agent.call<{ results: unknown[] }>('recall', { query: 'offsite' })).results, [])
  assert.equal((await errCode('get_memory', { id: m.id })).code, 'NOT_FOUND')
})

test('groups by name: list_groups, remember into a shared group, list_memories by type, share_memory from personal', async () => {
  const team = await n.ok('POST', '/api/v1/groups', { name: 'Team Atlas' })
  const lg = await agent.call<{ personalGroupId: string, groups: Array<{ id: string, name: string, personal: boolean, role: string }> }>('list_groups')
  assert.equal(lg.personalGroupId, n.personalGroupId)
  assert.ok(lg.groups.some(g => g.id === team.id && g.name === 'Team Atlas' && !g.personal && g.role === 'owner'))
  const w = await agent.call<{ groupId: string }>('remember', { content: 'Atlas deploys freeze on Fridays.', group: 'team atlas', type: 'decision' })
  assert.equal(w.groupId, team.id, 'a group by its name, case-insensitively')
  await agent.call('remember', { content: { text: 'Atlas uses Postgres 16', tags: ['db'] }, group: team.id, type: 'fact' })
  const page = await agent.call<{ items: Array<{ type: string }>, nextCursor: string | null }>('list_memories', { group: team.id, type: 'decision' })
  assert.deepEqual(page.items.map(i => i.type), ['decision'])
  const mine = await agent.call<{ id: string }>('remember', { content: 'Atlas release notes go out on Mondays.' })
  const copy = await agent.call<{ id: string, groupId: string }>('share_memory', { id: mine.id, toGroup: 'Team Atlas' })
  assert.equal(copy.groupId, team.id)
  assert.notEqual(copy.id, mine.id)
  const prov = (await agent.call<{ provenance: Array<{ action: string, source?: { itemId: string } }> }>('get_memory', { id: copy.id })).provenance
  assert.ok(prov.some(p => p.action === 'shared-from' && p.source?.itemId === mine.id))
  assert.equal((await errCode('remember', { content: 'x', group: 'no such team' })).code, 'NOT_FOUND')
})

test('bad arguments are isError results with INVALID_INPUT, and the server keeps serving', async () => {
  assert.equal((await errCode('recall', {})).code, 'INVALID_INPUT')
  assert.equal((await errCode('remember', { content: 'x', colour: 'blue' })).code, 'INVALID_INPUT')
  assert.equal((await errCode('recall', { query: 'x', limit: 5000 })).code, 'INVALID_INPUT')
  assert.equal((await errCode('get_memory', { id: 'not-an-id' })).code, 'NOT_FOUND')
  assert.equal((await errCode('no_such_tool')).code, 'NOT_FOUND')
  let deep: unknown = 'bottom'
  for (let i = 0; i < 500; i++) deep = [deep]
  assert.equal((await errCode('remember', { content: deep })).code, 'INVALID_INPUT', 'content nested 500 deep is refused (the limit is 100 levels)')
  assert.ok(Array.isArray((await agent.call<{ groups: unknown[] }>('list_groups')).groups))
})

test('a locked vault: isError with VAULT_LOCKED, and the hint tells the person to run `cairn unlock`', async () => {
  await n.ok('POST', '/api/v1/lock')
  try {
    const e = await errCode('remember', { content: 'written while locked' })
    assert.equal(e.code, 'VAULT_LOCKED')
    assert.match(e.hint ?? '', /cairn unlock --data-dir/)
    assert.equal((await errCode('recall', { query: 'anything' })).code, 'VAULT_LOCKED')
  } finally {
    await n.ok('POST', '/api/v1/unlock', { passphrase: PASSPHRASE })
  }
  assert.ok((await agent.call<{ id: string }>('remember', { content: 'written after unlock' })).id)
})

test('resources: the groups and the memories, read as JSON', async () => {
  const w = await agent.call<{ id: string }>('remember', { content: 'Resources are readable too.' })
  const { resources } = await agent.client.listResources()
  assert.ok(resources.some(r => r.uri === 'cairn://groups'))
  assert.ok(resources.some(r => r.uri === `cairn://groups/${n.personalGroupId}/memories`))
  const { resourceTemplates } = await agent.client.listResourceTemplates()
  assert.deepEqual(resourceTemplates.map(t => t.uriTemplate).sort(), ['cairn://groups/{groupId}', 'cairn://groups/{groupId}/memories', 'cairn://memories/{id}'])
  const one = await agent.client.readResource({ uri: `cairn://memories/${w.id}` })
  assert.equal(JSON.parse((one.contents[0] as { text: string }).text).content, 'Resources are readable too.')
  const list = await agent.client.readResource({ uri: `cairn://groups/${n.personalGroupId}/memories` })
  assert.ok(JSON.parse((list.contents[0] as { text: string }).text).items.some((i: { id: string }) => i.id === w.id))
  await assert.rejects(agent.client.readResource({ uri: 'cairn://nothing' }), /NOT_FOUND/)
})

test('no daemon running: the server starts, says so on stderr, and every tool answers UNAVAILABLE with `cairn start`', async () => {
  const dir = initNodeDir().dataDir
  const s = await connectMcp({ dataDir: dir, name: 'orphan' })
  sessions.push(s)
  const r = await s.client.callTool({ name: 'recall', arguments: { query: 'x' } }) as CallToolResult
  assert.equal(r.isError, true)
  const e = errorOf(r)
  assert.equal(e.code, 'UNAVAILABLE')
  assert.match(e.message, /cairn start --data-dir/)
  await waitFor('the warning on stderr', () => /warning: no cairn daemon/.test(s.stderr()), 10_000)
})

test('the server exits when its stdin closes', async () => {
  const p = spawn(process.execPath, [BIN, 'mcp', '--data-dir', n.dataDir], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', d => { out += String(d) })
  const exited = new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  p.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) + '\n')
  p.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n')
  p.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_groups', arguments: {} } }) + '\n')
  p.stdin.end()
  const t = setTimeout(() => p.kill('SIGKILL'), 30_000)
  const code = await exited
  clearTimeout(t)
  assert.equal(code, 0, 'a clean exit, not a kill')
  const answers = out.trim().split('\n').map(l => JSON.parse(l))
  assert.ok(answers.find(a => a.id === 2)?.result?.structuredContent?.groups !== undefined, 'a call sent just before stdin closed was still answered')
})

test('--http: streamable HTTP on loopback with the node\'s bearer token; Host, Origin and token are checked', async () => {
  const p = spawn(process.execPath, [BIN, '--json', 'mcp', '--http', '--port', '0', '--data-dir', n.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  try {
    let out = ''
    p.stdout.on('data', d => { out += String(d) })
    const info = await waitFor('the URL on stdout', () => { try { return JSON.parse(out) as { url: string, port: number } } catch { return undefined } }, 20_000)
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    const c = new Client({ name: 'http-agent', version: '1' })
    await c.connect(new StreamableHTTPClientTransport(new URL(info.url), { requestInit: { headers: { authorization: `Bearer ${n.token}` } } }))
    const r = await c.callTool({ name: 'remember', arguments: { content: 'Remembered over streamable HTTP.' } }) as CallToolResult
    assert.equal((r.structuredContent as { groupId: string }).groupId, n.personalGroupId)
    assert.equal((await c.listTools()).tools.length, 8)
    await c.close()

    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
    const noToken = await rawRequest(info.port, { method: 'POST', path: '/mcp', check: false, headers, body: init })
    assert.equal(noToken.status, 401)
    assert.equal(noToken.json.error.data.code, 'UNAUTHORIZED')
    const evilHost = await rawRequest(info.port, { method: 'POST', path: '/mcp', check: false, headers: { ...headers, host: 'evil.example:80', authorization: `Bearer ${n.token}` }, body: init })
    assert.equal(evilHost.status, 403)
    assert.equal(evilHost.json.error.data.code, 'HOST_NOT_ALLOWED')
    const evilOrigin = await rawRequest(info.port, { method: 'POST', path: '/mcp', check: false, headers: { ...headers, origin: 'https://evil.example', authorization: `Bearer ${n.token}` }, body: init })
    assert.equal(evilOrigin.status, 403)
    const noSession = await rawRequest(info.port, { method: 'POST', path: '/mcp', check: false, headers: { ...headers, authorization: `Bearer ${n.token}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) })
    assert.equal(noSession.status, 400)
  } finally {
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), 15_000)
    assert.equal(await exited, 0, 'SIGTERM stops it cleanly')
    clearTimeout(t)
  }
})
