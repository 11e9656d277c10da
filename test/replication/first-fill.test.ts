/**
 * A keeper added to a group that two nodes already hold (its owner and a first
 * keeper) fills it from one of them, then meets the other: each record crosses
 * the wire to it about once, not once per holder (sync-scheduler.ts `adopted`).
 * In process, real libp2p over TCP, real SQLite; no scheduled anti-entropy.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { GroupId } from '../../src/crypto/ids.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { counterIn } from '../helpers/replication-cluster.js'
import { waitFor } from '../helpers/cli.js'

const ENV = { CAIRN_REPLICATION_CHATTY_INTERVAL_SECONDS: '3600', CAIRN_REPLICATION_TACITURN_INTERVAL_SECONDS: '86400' }
const ITEMS = 300

let A: LocalNode
let K1: LocalNode
let K2: LocalNode
let gid: GroupId
after(async () => { await Promise.all([A, K1, K2].filter(n => n !== undefined).map(async n => await n.stop())) })

const peerOf = (n: LocalNode): string => n.daemon.net!.libp2p.peerId.toString()
const addrOf = (n: LocalNode): string => n.daemon.net!.libp2p.getMultiaddrs()[0]!.toString()
const items = (n: LocalNode): number => n.daemon.services.store.allOfKind(gid, 'item').length
const metrics = async (n: LocalNode): Promise<{ bytes: number, sessions: number, errors: number }> => {
  const text = (await n.api('GET', '/metrics')).text
  return { bytes: counterIn(text, 'cairn_sync_bytes_total'), sessions: counterIn(text, 'cairn_sync_rounds_total'), errors: counterIn(text, 'cairn_sync_rounds_total', { result: 'error' }) }
}
const addKeeper = async (k: LocalNode): Promise<void> => {
  await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: peerOf(k), multiaddr: addrOf(k) })
  await waitFor(`the keeper to hold all ${ITEMS} items`, async () => items(k) === ITEMS, 60_000)
  await Promise.all([A, K1, K2].map(async n => await n.daemon.net!.replicator.scheduler.settled()))
}

before(async () => {
  [A, K1, K2] = await Promise.all([localNode({ env: ENV }), localNode({ keeper: true, env: ENV }), localNode({ keeper: true, env: ENV })])
  gid = (await A.ok('POST', '/api/v1/groups', { name: 'first fill', culture: 'taciturn' })).id as GroupId
  const filler = 'x'.repeat(2000)
  for (let i = 0; i < ITEMS; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `note ${i} ${filler}` })
})

test('a keeper added to a group held by its owner and a keeper receives each record about once, and holds them all', { timeout: 180_000 }, async () => {
  await addKeeper(K1) // one holder: what a single sender moves
  const one = await metrics(K1)
  assert.ok(one.bytes > ITEMS * 2000, `K1's sync moved the items (${one.bytes} bytes)`)
  // K2 knows both holders already (a keeper of the owner's other groups, say): both could send.
  await K2.daemon.net!.libp2p.dial(K1.daemon.net!.libp2p.getMultiaddrs()[0]!)
  await addKeeper(K2) // two holders now: A and K1
  const two = await metrics(K2)
  assert.equal(items(K2), ITEMS)
  assert.equal(two.errors, 0, 'no session of the fill failed')
  assert.ok(two.bytes < one.bytes * 1.3, `K2 moved ${two.bytes} bytes in ${two.sessions} session(s), where K1 alone moved ${one.bytes}: each record about once, not once per holder`)
  // It still met the other holder: K1 and K2 reconciled (a cheap session: nothing left to send).
  const k1k2 = K2.daemon.net!.replicator.scheduler.recentlySynced(peerOf(K1), gid, 60_000) || K1.daemon.net!.replicator.scheduler.recentlySynced(peerOf(K2), gid, 60_000)
  const k2a = K2.daemon.net!.replicator.scheduler.recentlySynced(peerOf(A), gid, 60_000) || A.daemon.net!.replicator.scheduler.recentlySynced(peerOf(K2), gid, 60_000)
  assert.ok(k1k2 && k2a, `K2 met both holders (K1: ${String(k1k2)}, A: ${String(k2a)})`)
})
