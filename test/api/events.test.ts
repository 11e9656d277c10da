/**
 * GET /api/v1/events (Server-Sent Events) on a real daemon in this process:
 * every event has an `id:` line; a client reconnecting with Last-Event-ID gets
 * exactly what it missed; an ID from another run says `gap`; HEAD answers at
 * once instead of holding the socket (issue 12, item 3).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { EventLog } from '../../src/node/event-log.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { stopAll, waitFor } from '../helpers/cli.js'

let A: LocalNode
before(async () => { A = await localNode() })
after(async () => { await A.stop(); await stopAll() })

interface Sse { id?: string, event?: string, data?: any }

/** Open the stream; collect parsed events until close(). */
function open (headers: Record<string, string> = {}, query = ''): { events: Sse[], close: () => void, ready: Promise<void> } {
  const events: Sse[] = []
  let close = (): void => {}
  const ready = new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: A.daemon.apiPort, path: `/api/v1/events${query}`, headers: { authorization: `Bearer ${A.token}`, ...headers } }, res => {
      assert.equal(res.statusCode, 200)
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        let i: number
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const e: Sse = {}
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) e.id = line.slice(4)
            else if (line.startsWith('event: ')) e.event = line.slice(7)
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6))
          }
          if (e.event !== undefined) events.push(e)
        }
        resolve()
      })
      res.on('error', () => {})
    })
    req.on('error', reject)
    close = () => req.destroy()
    req.end()
  })
  return { events, close: () => close(), ready }
}

const write = async (content: string): Promise<string> => (await A.ok('POST', `/api/v1/groups/${A.personalGroupId}/items`, { content })).id

test('HEAD /api/v1/events answers 200 text/event-stream at once and ends (it held the socket forever)', async () => {
  const r = await new Promise<{ status: number, type: string, body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: A.daemon.apiPort, path: '/api/v1/events', method: 'HEAD', headers: { authorization: `Bearer ${A.token}` } }, res => {
      let body = ''
      res.on('data', d => { body += String(d) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
    req.setTimeout(5000, () => req.destroy(new Error('HEAD /api/v1/events did not answer within 5 s')))
    req.on('error', reject)
    req.end()
  })
  assert.equal(r.status, 200)
  assert.match(r.type, /^text\/event-stream/)
  assert.equal(r.body, '')
})

test('every event carries an id; reconnecting with Last-Event-ID replays exactly what was missed', async () => {
  const s1 = open()
  await s1.ready
  const first = await write('before the disconnect')
  const seen = await waitFor('the stored event', () => s1.events.find(e => e.event === 'stored' && e.data.id === first), 10_000)
  assert.match(seen.id!, /^[0-9a-z]+-\d+$/)
  s1.close()
  const missed = [await write('missed 1'), await write('missed 2')]
  const s2 = open({ 'last-event-id': s1.events[s1.events.length - 1]!.id! })
  await s2.ready
  await waitFor('the missed events replayed', () => missed.every(id => s2.events.some(e => e.event === 'stored' && e.data.id === id)), 10_000)
  assert.equal(s2.events.some(e => e.data?.id === first), false, 'an event the client had is not sent again')
  assert.equal(s2.events.some(e => e.event === 'gap'), false)
  const ids = s2.events.map(e => Number(e.id!.split('-')[1]))
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in order')
  s2.close()
})

test('a Last-Event-ID from another run of the daemon gets every buffered event and a gap notice', async () => {
  const s = open({}, '?lastEventId=zzzz-5')
  await s.ready
  await waitFor('a gap event', () => s.events.some(e => e.event === 'gap'), 10_000)
  assert.ok(s.events.some(e => e.event === 'stored'), 'the buffered events follow')
  s.close()
  const bad = await A.api('GET', '/api/v1/events', undefined, { 'last-event-id': 'x'.repeat(100) })
  assert.equal(bad.status, 400)
  assert.equal(bad.json.error.code, 'INVALID_INPUT')
})

test('the event ring keeps the newest events and says when an ID fell out of it', () => {
  const log = new EventLog('b1', 3)
  const ids = [1, 2, 3, 4, 5].map(i => log.push({ type: 't', id: String(i), at: '' }).id)
  assert.deepEqual(log.since(ids[3]).events.map(e => e.event.id), ['5'])
  assert.equal(log.since(ids[3]).gap, false)
  assert.equal(log.since(ids[1]).gap, false, 'just before the oldest kept: nothing lost')
  assert.equal(log.since(ids[0]).gap, true)
  assert.deepEqual(log.since(ids[0]).events.map(e => e.event.id), ['3', '4', '5'])
  assert.equal(log.since('b1-99').gap, true, 'an ID from the future')
  assert.deepEqual(log.since(undefined), { events: [], gap: false })
})
