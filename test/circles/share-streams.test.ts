/**
 * The requester's idle share streams (share-streams.ts), with stream doubles: a
 * stream is handed to one request at a time, only an open one comes back out,
 * one that closes or idles out leaves the pool (and is closed), at most two wait
 * per holder, and each libp2p node has its own pool. The wire behaviour (a holder
 * answering several requests on one stream) is in holders.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { IDLE_MS, shareStreams } from '../../src/circles/share-streams.js'
import type { Channel } from '../../src/replication/channel.js'
import type { CairnLibp2p } from '../../src/replication/libp2p-node.js'

class FakeStream extends EventTarget {
  status = 'open'
  writeStatus = 'writable'
  readStatus = 'readable'
  listeners = 0
  override addEventListener (...a: Parameters<EventTarget['addEventListener']>): void { this.listeners++; super.addEventListener(...a) }
  override removeEventListener (...a: Parameters<EventTarget['removeEventListener']>): void { this.listeners--; super.removeEventListener(...a) }
  remoteClose (): void { this.status = 'closed'; this.readStatus = 'closed'; this.dispatchEvent(new Event('close')) }
}

function channel (): Channel & { closed: number, aborted: number, s: FakeStream } {
  const s = new FakeStream()
  const ch = { stream: s, s, closed: 0, aborted: 0, closeSoon () { ch.closed++ }, abort () { ch.aborted++ } }
  return ch as unknown as Channel & { closed: number, aborted: number, s: FakeStream }
}

const peer = (id: string): PeerId => ({ toString: () => id }) as unknown as PeerId
const node = (): CairnLibp2p => ({}) as unknown as CairnLibp2p

test('a stream given back is taken by the next request to that peer, once, and not by another peer\'s', () => {
  const pool = shareStreams(node())
  const a = channel()
  assert.equal(pool.take(peer('B')), undefined, 'nothing idle yet')
  pool.give(peer('B'), a)
  assert.equal(pool.take(peer('C')), undefined)
  assert.equal(pool.take(peer('B')), a)
  assert.equal(pool.take(peer('B')), undefined, 'in use by one request at a time')
  assert.equal(a.s.listeners, 0, 'no listener left on a stream taken out')
  assert.equal(a.closed + a.aborted, 0)
})

test('a stream that closed while idle leaves the pool; one found no longer writable is aborted, not handed out', () => {
  const pool = shareStreams(node())
  const a = channel()
  pool.give(peer('B'), a)
  a.s.remoteClose()
  assert.equal(pool.take(peer('B')), undefined)
  const b = channel()
  pool.give(peer('B'), b)
  b.s.writeStatus = 'closed' // half-closed by us without an event
  assert.equal(pool.take(peer('B')), undefined)
  assert.equal(b.aborted, 1)
})

test('at most two idle streams per peer: a third is closed at once', () => {
  const pool = shareStreams(node())
  const [a, b, c] = [channel(), channel(), channel()]
  pool.give(peer('B'), a)
  pool.give(peer('B'), b)
  pool.give(peer('B'), c)
  assert.equal(c.closed, 1)
  assert.deepEqual(new Set([pool.take(peer('B')), pool.take(peer('B'))]), new Set([a, b]))
})

test('an idle stream is closed after IDLE_MS; clear() closes every idle stream', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const pool = shareStreams(node())
  const a = channel()
  pool.give(peer('B'), a)
  t.mock.timers.tick(IDLE_MS - 1)
  assert.equal(a.closed, 0)
  t.mock.timers.tick(1)
  assert.equal(a.closed, 1)
  assert.equal(pool.take(peer('B')), undefined)
  const [b, c] = [channel(), channel()]
  pool.give(peer('B'), b)
  pool.give(peer('C'), c)
  pool.clear()
  assert.deepEqual([b.closed, c.closed], [1, 1])
  assert.equal(pool.take(peer('B')), undefined)
  t.mock.timers.tick(IDLE_MS)
  assert.deepEqual([b.closed, c.closed], [1, 1], 'closed once')
})

test('each libp2p node has its own pool', () => {
  const n1 = node()
  const a = channel()
  shareStreams(n1).give(peer('B'), a)
  assert.equal(shareStreams(node()).take(peer('B')), undefined)
  assert.equal(shareStreams(n1).take(peer('B')), a)
})
