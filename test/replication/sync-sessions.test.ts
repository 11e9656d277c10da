/**
 * SyncSessions.served: what a declined initiator waits for. The winner's
 * session may already be over when the decline is read (a small set settles in
 * one turn); its outcome must still be found, or the declined side runs a
 * second session of its own.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SyncSessions } from '../../src/replication/sync-sessions.js'
import type { SyncReport } from '../../src/replication/sync-protocol.js'
import type { GroupId } from '../../src/crypto/ids.js'

const gid = '9b5f0673-ac63-49b0-a172-90cbe1254e5e' as GroupId
const report = (sent: number): SyncReport => ({ peerId: 'P', groupId: gid, sent, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 1 })

test('a responder session that ended after the declined attempt began is its outcome, without waiting', async () => {
  const s = new SyncSessions()
  const since = Date.now()
  s.begin('P', gid, 'responder').end(report(7))
  const t0 = Date.now()
  const got = await s.served('P', gid, 5_000, since)
  assert.ok(Date.now() - t0 < 4_000, 'did not wait for a new session')
  assert.equal((await got)?.sent, 7)
})

test('a responder session that ended before the attempt began is not its outcome; one under way is', async () => {
  const s = new SyncSessions()
  // served's own timer is unref'd (it must not hold a stopping node open); this test's process waits on it.
  const hold = setInterval(() => {}, 1000)
  s.begin('P', gid, 'responder').end(report(1))
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal(await s.served('P', gid, 20, Date.now()), undefined, 'an older session is not the winner')
  const h = s.begin('P', gid, 'responder')
  const got = s.served('P', gid, 20, Date.now())
  h.end(report(3))
  assert.equal((await got)?.sent, 3)
  clearInterval(hold)
})
