/**
 * The typed client SDK, `cairn/client`: how it is imported and typed (package
 * exports, declarations in dist/), how it finds a node from its data dir, what
 * its errors carry, and its event stream. The real daemon is exercised by the
 * tour in test/api/openapi.test.ts; here small node:http servers play the
 * daemon's part where a test needs an answer no daemon gives on demand.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, stopAll, tempDir } from '../helpers/cli.js'

after(stopAll)

const { CairnClient, CairnError } = await import('cairn/client')

interface Fake { port: number, url: string, seen: IncomingMessage[], close: () => Promise<void> }
async function fake (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const seen: IncomingMessage[] = []
  const srv: Server = createServer((req, res) => { seen.push(req); handler(req, res) })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  return { port, url: `http://127.0.0.1:${port}`, seen, close: async () => { srv.closeAllConnections(); await new Promise(resolve => srv.close(resolve)) } }
}
const json = (res: ServerResponse, status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }

test('`import { CairnClient } from \'cairn/client\'` resolves through the package exports to dist/, with declarations', () => {
  assert.equal(typeof CairnClient, 'function')
  assert.ok(existsSync(join(ROOT, 'dist/client/index.d.ts')), 'declarations shipped in dist/')
})

test('a TypeScript consumer type-checks against the shipped declarations, and mistakes are type errors', () => {
  // consumer.ts has @ts-expect-error on a misspelt body field, a bad enum, a string limit and a missing response field:
  // tsc fails if any of them stops being an error, or if a correct use is one.
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'test/fixtures/sdk-consumer')], { encoding: 'utf8', timeout: 120_000 })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('a server error becomes a CairnError with the server\'s code (any code), its message and the HTTP status', async () => {
  const f = await fake((req, res) => {
    if (req.url === '/api/v1/status') json(res, 409, { error: { code: 'GROUP_DESCRIPTOR_STALE', message: 'newer than this client', version: 7 } })
    else res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>')
  })
  try {
    const c = new CairnClient({ baseUrl: f.url, token: 't' })
    await assert.rejects(c.getStatus(), (e: unknown) => {
      assert.ok(e instanceof CairnError)
      assert.equal(e.code, 'GROUP_DESCRIPTOR_STALE')
      assert.equal(e.message, 'newer than this client')
      assert.deepEqual(e.details, { version: 7, status: 409 })
      return true
    })
    await assert.rejects(c.listGroups(), (e: any) => e instanceof CairnError && e.code === 'INTERNAL' && e.details?.status === 502)
    assert.equal(f.seen[0]!.headers.authorization, 'Bearer t')
  } finally { await f.close() }
})

test('no daemon: UNAVAILABLE saying to run `cairn start`; no token: NOT_INITIALIZED; a hung daemon: TIMEOUT', async () => {
  const dir = tempDir()
  await assert.rejects(new CairnClient({ dataDir: dir }).getStatus(), (e: any) => e.code === 'NOT_INITIALIZED' && e.message.includes('cairn init'))
  writeFileSync(join(dir, 'api-token'), 'x'.repeat(64))
  await assert.rejects(new CairnClient({ dataDir: dir }).getStatus(), (e: any) => e.code === 'UNAVAILABLE' && e.message.includes('daemon.json'), 'no daemon.json: no daemon runs here, and no default port is tried')
  const f = await fake(() => {})
  const port = f.port
  await f.close()
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ pid: 1, apiHost: '127.0.0.1', apiPort: port }))
  await assert.rejects(new CairnClient({ dataDir: dir }).getStatus(), (e: any) => e.code === 'UNAVAILABLE' && e.message.includes(`cairn start --data-dir ${dir}`))
  const hung = await fake(() => { /* never answers */ })
  try {
    await assert.rejects(new CairnClient({ baseUrl: hung.url, token: 't', timeoutMs: 300 }).getStatus(), (e: any) => e.code === 'TIMEOUT')
  } finally { await hung.close() }
})

test('with a data dir, each request reads daemon.json and api-token again: a restarted daemon on another port is followed', async () => {
  const dir = tempDir()
  const a = await fake((_q, res) => json(res, 200, { status: 'ok' }))
  const b = await fake((_q, res) => json(res, 200, { status: 'ok' }))
  try {
    const c = new CairnClient({ dataDir: dir })
    writeFileSync(join(dir, 'api-token'), 'token-one\n')
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ pid: 1, apiHost: '127.0.0.1', apiPort: a.port }))
    await c.health()
    writeFileSync(join(dir, 'api-token'), 'token-two\n')
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ pid: 2, apiHost: '127.0.0.1', apiPort: b.port }))
    await c.health()
    assert.deepEqual([a.seen.length, b.seen.length], [1, 1])
    assert.equal(a.seen[0]!.headers.authorization, 'Bearer token-one')
    assert.equal(b.seen[0]!.headers.authorization, 'Bearer token-two')
  } finally { await a.close(); await b.close() }
})

test('path parameters are encoded and only the query values given are sent', async () => {
  const f = await fake((_q, res) => json(res, 200, { items: [], nextCursor: null }))
  try {
    const c = new CairnClient({ baseUrl: f.url, token: 't' })
    await c.listItems('a/b?c', { limit: 5, type: undefined, cursor: 'x y' })
    assert.equal(f.seen[0]!.url, '/api/v1/groups/a%2Fb%3Fc/items?limit=5&cursor=x+y')
    await assert.rejects(c.getItem(''), (e: any) => e.code === 'INVALID_INPUT')
  } finally { await f.close() }
})

test('events(): split chunks are reassembled, ids tracked, Last-Event-ID sent on a resume, close() ends the loop', async () => {
  let resumeHeader: string | undefined
  const f = await fake((req, res) => {
    resumeHeader = req.headers['last-event-id'] as string | undefined
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(': cairn events\n\n')
    const a = 'id: 1\nevent: stored\ndata: {"type":"stored","groupId":"g1","id":"r1","kind":"item","origin":"push","at":"2026-12-01T00:00:00.000Z"}\n\n'
    const b = 'id: 2\nevent: job\ndata: {"type":"job","id":"j1","kind":"done","at":"2026-12-01T00:00:01.000Z"}\n\n'
    res.write(a.slice(0, 25))
    setTimeout(() => { res.write(a.slice(25) + b.slice(0, 7)) }, 20)
    setTimeout(() => { res.write(b.slice(7)) }, 40)
  })
  try {
    const c = new CairnClient({ baseUrl: f.url, token: 't' })
    const s = c.events({ group: 'g1' })
    await s.ready()
    const got: Array<{ type: string, id?: string }> = []
    for await (const e of s) { got.push(e); if (got.length === 2) s.close() }
    assert.deepEqual(got.map(e => [e.type, e.id]), [['stored', 'r1'], ['job', 'j1']])
    assert.equal(s.lastEventId, '2')
    assert.equal(f.seen[0]!.url, '/api/v1/events?group=g1')
    const again = c.events({ lastEventId: s.lastEventId })
    await again.ready()
    again.close()
    assert.equal(resumeHeader, '2')
  } finally { await f.close() }
})

test('events(): a server error is thrown by ready() with its code; data that is not JSON ends the loop with an error', async () => {
  const f = await fake((req, res) => {
    if (req.url?.includes('group=locked') === true) { json(res, 423, { error: { code: 'VAULT_LOCKED', message: 'locked' } }); return }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('event: stored\ndata: {not json\n\n')
  })
  try {
    const c = new CairnClient({ baseUrl: f.url, token: 't' })
    await assert.rejects(c.events({ group: 'locked' }).ready(), (e: any) => e.code === 'VAULT_LOCKED')
    await assert.rejects((async () => { for await (const _ of c.events()) { /* nothing valid */ } })(), (e: any) => e instanceof CairnError && e.code === 'INVALID_INPUT')
  } finally { await f.close() }
})
