/**
 * A sync batch repeating records the receiver holds (a second session beside
 * the first, both sides having opened one at once): the copies identical to
 * stored records are dropped before the verifier (sync-protocol.ts notHeld);
 * anything else in the batch, a tampered copy of a held record included, is
 * verified and judged as before. In process, real libp2p over TCP, real SQLite.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { makeClock } from '../../src/crypto/hlc.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { sealItem } from '../../src/records/item.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { counterIn } from '../helpers/replication-cluster.js'
import { HostilePeer } from '../helpers/replication-hostile.js'
import { waitFor } from '../helpers/cli.js'

const nodes: LocalNode[] = []
let h: HostilePeer | undefined
after(async () => { await h?.stop().catch(() => {}); await Promise.all(nodes.map(async n => await n.stop())) })

const ENV = { CAIRN_REPLICATION_TACITURN_INTERVAL_SECONDS: '86400' }
const N = 12

test('records the keeper holds byte for byte, synced again, are not verified again; a tampered copy and a new record in the same batch are', { timeout: 120_000 }, async () => {
  const A = await localNode({ env: ENV })
  nodes.push(A)
  const K = await localNode({ keeper: true, env: ENV })
  nodes.push(K)
  const gid = (await A.ok('POST', '/api/v1/groups', { name: 'held', culture: 'taciturn' })).id as GroupId
  for (let i = 0; i < N; i++) await A.ok('POST', `/api/v1/groups/${gid}/items`, { content: `item ${i}` })
  const kPeer = K.daemon.net!.libp2p.peerId.toString()
  const kAddr = K.daemon.net!.libp2p.getMultiaddrs()[0]!.toString()
  await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: kPeer, multiaddr: kAddr })
  const held = async (): Promise<number> => K.daemon.services.store.allOfKind(gid, 'item').length
  await waitFor('the keeper to hold every item', async () => (await held()) === N, 60_000)

  const verifier = K.daemon.net!.replicator.verifier
  const check = verifier.check.bind(verifier)
  const verified: Uint8Array[] = []
  verifier.check = async (recs, max) => { verified.push(...recs); return await check(recs, max) }

  const copies = K.daemon.services.store.allOfKind(gid, 'item').map(r => new Uint8Array(r.bytes))
  const tampered = new Uint8Array(copies[0]!); tampered[tampered.length - 1]! ^= 0x01
  const me = A.daemon.services.vault!.entityKey()
  const fresh = sealItem({ signer: me, groupId: gid, clock: makeClock(Date.now()), keyVersion: 1, key: A.daemon.services.groups.keyFor(gid, 1), plain: { type: 'note', content: 'new', meta: null, createdAt: makeClock(Date.now()) } })
  const rejected = async (): Promise<number> => counterIn((await K.api('GET', '/metrics')).text, 'cairn_records_rejected_total', { reason: 'bad-signature', origin: 'sync' })
  const before = await rejected()

  h = await HostilePeer.create()
  await h.connect(kAddr)
  await h.hello(kPeer, h.bindingFor(me))
  // pushBySync opens again when declined `busy` (K's own session with a peer that said hello).
  const out = await h.pushBySync(kPeer, gid, [...copies, tampered, fresh.bytes])
  assert.deepEqual(out.received.at(-1), { done: 1 }, 'only the new record stored')
  assert.deepEqual(verified.map(b => Buffer.from(b).toString('hex')).sort(), [tampered, fresh.bytes].map(b => Buffer.from(b).toString('hex')).sort(), 'the verifier saw the tampered copy and the new record, none of the held copies')
  assert.equal(await rejected() - before, 1, 'the tampered copy refused as bad-signature')
  assert.equal(await held(), N + 1)
  assert.ok(K.daemon.services.store.allOfKind(gid, 'item').some(r => r.hash.equals(Buffer.from(fresh.hash))))
})
