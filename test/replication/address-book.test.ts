/**
 * The address book and the per-peer replication state over a real store:
 * what survives a restart, which addresses are refused, what expires, and how
 * `behind` is counted between reconciliations.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { AddressBook, normalizeAddr } from '../../src/replication/address-book.js'
import { ReplicationState } from '../../src/replication/replication-state.js'
import { Store } from '../../src/store/store.js'
import { tempDir } from '../helpers/cli.js'

const P1 = '12D3KooWLXa3MnXhvDn5Qwu4UDr5vXvh4Spzvag6WqxGQ9rNqDCh'
const P2 = '12D3KooWM75v42EfKEGgCnyvQoNBeP9XEfS5fBPTXuEk9Vry2mn9'
const DAY = 86_400_000

test('an address must name its own peer; one naming another peer, or not a multiaddr, is refused', () => {
  assert.equal(normalizeAddr('/ip4/127.0.0.1/tcp/4001', P1), `/ip4/127.0.0.1/tcp/4001/p2p/${P1}`)
  assert.equal(normalizeAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${P1}`, P1), `/ip4/127.0.0.1/tcp/4001/p2p/${P1}`)
  assert.equal(normalizeAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${P2}`, P1), undefined)
  assert.equal(normalizeAddr('not an address', P1), undefined)
  assert.equal(normalizeAddr(`/ip4/1.2.3.4/tcp/1/p2p/${P2}/p2p-circuit`, P1), undefined)
})

test('addresses persist across a reopen of the store, the working one first', () => {
  const path = join(tempDir(), 'cairn.db')
  let now = 1_000_000
  const s1 = new Store(path)
  const b1 = new AddressBook(s1.peers, () => now)
  b1.remember(P1, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'], 'identify')
  now += 10
  b1.connected(P1, `/ip4/127.0.0.1/tcp/2/p2p/${P1}`)
  s1.close()
  const s2 = new Store(path)
  const b2 = new AddressBook(s2.peers, () => now)
  assert.deepEqual(b2.addrs(P1), [`/ip4/127.0.0.1/tcp/2/p2p/${P1}`, `/ip4/127.0.0.1/tcp/1/p2p/${P1}`])
  assert.deepEqual(b2.peers(), [P1])
  s2.close()
})

test('expiry: a peer that is no longer a group peer is forgotten after a day unseen; dead addresses go once another works', () => {
  let now = 10 * DAY
  const s = new Store(join(tempDir(), 'cairn.db'))
  const b = new AddressBook(s.peers, () => now)
  b.remember(P1, ['/ip4/127.0.0.1/tcp/1'], 'hint') // a recovery's temporary node
  b.remember(P2, ['/ip4/127.0.0.1/tcp/7', '/ip4/127.0.0.1/tcp/8'], 'identify') // a keeper that moved port
  b.connected(P2, `/ip4/127.0.0.1/tcp/8/p2p/${P2}`)
  for (let i = 0; i < 5; i++) s.peers.addrFailed(P2, `/ip4/127.0.0.1/tcp/7/p2p/${P2}`)
  const groupPeers = new Set([P2])
  assert.equal(b.expire(p => groupPeers.has(p)), 1, 'the failing address of P2, superseded by a working one')
  assert.deepEqual(b.addrs(P2), [`/ip4/127.0.0.1/tcp/8/p2p/${P2}`])
  assert.deepEqual(b.addrs(P1), [`/ip4/127.0.0.1/tcp/1/p2p/${P1}`], 'kept within a day')
  now += DAY + 1
  b.expire(p => groupPeers.has(p))
  assert.deepEqual(b.addrs(P1), [], 'forgotten')
  assert.equal(b.addrs(P2).length, 1, 'a group peer is never forgotten for being quiet')
  s.close()
})

test('behind: exact after a reconciliation, counted forward for the records a peer missed, persisted', () => {
  const path = join(tempDir(), 'cairn.db')
  const s = new Store(path)
  const gid = '3f8f6c1e-4a57-4c58-9d1f-0b0f3d6a2f11'
  const st = new ReplicationState(s, () => 5000)
  assert.equal(st.view(gid, P1).behind, 0, 'no records held: nothing to lack')
  st.reconciled(gid, P1, 0)
  st.stored(gid, [P1])
  st.stored(gid, [P1])
  st.stored(gid, [])
  assert.equal(st.view(gid, P1).behind, 2)
  st.failed(gid, P1, 'connection refused')
  assert.equal(st.view(gid, P1).lastError, 'connection refused')
  st.stop()
  s.close()
  const s2 = new Store(path)
  const st2 = new ReplicationState(s2)
  assert.deepEqual({ behind: st2.view(gid, P1).behind, err: st2.view(gid, P1).lastError, at: st2.view(gid, P1).lastSyncAt }, { behind: 2, err: 'connection refused', at: new Date(5000).toISOString() })
  st2.reconciled(gid, P1, 0)
  assert.deepEqual({ behind: st2.view(gid, P1).behind, err: st2.view(gid, P1).lastError }, { behind: 0, err: null })
  st2.stop()
  s2.close()
})
