/**
 * A receiver slower than its sender: anti-entropy must not fail because the
 * receiver is still working through records when the sender's read of its
 * answer times out. The receiver stops reading once a few batches wait to be
 * stored (sync-protocol.ts PAUSE_AT), so the sender waits on flow control
 * and the receiver's answer follows its last batch closely.
 *
 * Set-up (in process, real libp2p over TCP, real SQLite): request timeout
 * 5 s on both nodes; ~20 MiB of items; the keeper's verifier is slowed to
 * 300 ms per ~1 MiB batch, one batch at a time, so the whole transfer takes
 * ~6 s of receiver work, more than the timeout, while what is in flight at any
 * time (≤ 4 batches + a 2 MiB stream window per session; the keeper and the
 * agent may both open a session) takes well under it — with seconds to spare
 * for a loaded CI box (at 2 s and 100 ms a stalled event loop once ran out).
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/cli.js'

const nodes: LocalNode[] = []
after(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

const ENV = { CAIRN_REPLICATION_REQUEST_TIMEOUT_MS: '5000', CAIRN_REPLICATION_TACITURN_INTERVAL_SECONDS: '86400' }

test('a keeper that verifies slowly still catches up ~20 MiB, without a timeout', async () => {
  const A = await localNode({ env: ENV })
  nodes.push(A)
  const K = await localNode({ keeper: true, env: ENV })
  nodes.push(K)
  const gid = (await A.ok('POST', '/api/v1/groups', { name: 'slow keeper', culture: 'taciturn' })).id
  const big = 'x'.repeat(200 * 1024)
  const ITEMS = 100
  for (let i = 0; i < ITEMS; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `${i} ${big}` })

  const verifier = K.daemon.net!.replicator.verifier
  const check = verifier.check.bind(verifier)
  let batches = 0
  // One batch at a time, 300 ms each: a verifier with a fixed throughput.
  let queue: Promise<unknown> = Promise.resolve()
  verifier.check = async (recs, max) => {
    batches++
    const mine = queue.then(async () => { await new Promise(resolve => setTimeout(resolve, 300)); return await check(recs, max) })
    queue = mine.catch(() => {})
    return await mine
  }

  const kAddr = K.daemon.net!.libp2p.getMultiaddrs()[0]!.toString()
  await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: K.daemon.net!.libp2p.peerId.toString(), multiaddr: kAddr })
  await waitFor('the keeper to hold the group', async () => (await K.api('GET', `/api/v1/groups/${gid}/raw`)).status === 200, 30_000)
  const r = await A.ok('POST', `/api/v1/groups/${gid}/sync`)
  for (const p of r.peers) assert.equal(p.error, undefined, `sync with ${p.peerId} failed: ${p.error}`)
  const raw = await waitFor(`the keeper to hold all ${ITEMS} items`, async () => {
    const j = (await K.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000`))
    return j.items.length >= ITEMS ? j : undefined
  }, 60_000)
  assert.ok(raw.items.length >= ITEMS)
  assert.ok(batches >= 15, `records came in ${batches} batches of ≤ 1 MiB`)
  const text = (await A.api('GET', '/metrics')).text
  const failed = text.split('\n').filter(l => l.startsWith('cairn_sync_rounds_total') && l.includes('result="error"')).reduce((a, l) => a + Number(l.split(' ').pop()), 0)
  const rows = (await A.ok('GET', `/api/v1/groups/${gid}/replication`)).peers
  assert.equal(failed, 0, `no sync session ended in error on the agent: ${JSON.stringify(rows)}`)
})
