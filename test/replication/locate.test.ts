/**
 * /cairn/locate/1.0.0 and the DHT path of LocateService, on real libp2p nodes
 * over TCP in this process: a node is found by entity through a peer that
 * vouches with the entity's own signed binding, never through a forged one, and
 * through kad-dht provider records when no shared peer knows it.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateSigningKey } from '../../src/crypto/sign.js'
import type { CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { LocateService } from '../../src/replication/locate.js'
import { signBindingStatement, type PeerInfo } from '../../src/replication/hello.js'
import { silentLogger } from '../../src/util/logger.js'
import { waitFor } from '../helpers/cli.js'
import { bareNode, stopNodes } from '../helpers/libp2p-nodes.js'

after(stopNodes)
const node = async (): Promise<CairnLibp2p> => await bareNode({ dht: true })

function service (libp2p: CairnLibp2p, o: { infos?: () => PeerInfo[], mayAsk?: (p: string) => boolean, mayReveal?: (e: Uint8Array) => boolean } = {}): LocateService {
  return new LocateService({ libp2p, timeoutMs: 5000, log: silentLogger(), dht: true, connectedInfos: o.infos ?? (() => []), mayAsk: o.mayAsk ?? (() => true), mayReveal: o.mayReveal ?? (() => true) })
}

test('a shared peer locates an entity\'s node with its signed binding; strangers get nothing; forged bindings are dropped', async () => {
  const [a, k, m] = await Promise.all([node(), node(), node()])
  const entity = generateSigningKey()
  const other = generateSigningKey()
  const mPeer = m.peerId.toString()
  let infos: PeerInfo[] = [{ peerId: mPeer, keeper: false, entity: entity.publicKey, binding: signBindingStatement(entity, mPeer), at: Date.now() }]
  let asker = true
  const ks = service(k, { infos: () => infos, mayAsk: () => asker })
  await ks.start()
  await k.dial(m.getMultiaddrs()[0]!)
  await a.dial(k.getMultiaddrs()[0]!)
  const as = service(a)
  const kId = k.peerId

  const found = await as.ask(kId, entity.publicKey)
  assert.deepEqual(found.map(f => f.peerId), [mPeer])
  assert.ok(found[0]!.addrs.some(x => x.includes('/tcp/')), `addresses of M: ${found[0]!.addrs.join(' ')}`)

  assert.deepEqual(await as.ask(kId, other.publicKey), [], 'an entity it does not serve')
  asker = false
  assert.deepEqual(await as.ask(kId, entity.publicKey), [], 'an asker sharing no group')
  asker = true
  // The answerer cannot redirect an entity to another node: the binding is for M's peer ID.
  infos = [{ peerId: a.peerId.toString(), keeper: false, entity: entity.publicKey, binding: signBindingStatement(entity, mPeer), at: Date.now() }]
  assert.deepEqual(await as.ask(kId, entity.publicKey), [], 'a binding for another peer ID')
  infos = [{ peerId: mPeer, keeper: false, entity: entity.publicKey, binding: signBindingStatement(other, mPeer), at: Date.now() }]
  assert.deepEqual(await as.ask(kId, entity.publicKey), [], 'a binding signed by another entity')
  await ks.stop()
})

test('without a shared peer, an entity\'s node is found through kad-dht provider records', async () => {
  const [a, d, n] = await Promise.all([node(), node(), node()])
  await a.dial(d.getMultiaddrs()[0]!)
  await n.dial(d.getMultiaddrs()[0]!)
  const entity = generateSigningKey()
  const ns = service(n)
  await waitFor('N to have D in its DHT routing table', async () => {
    await ns.announce(entity.publicKey)
    const as = service(a)
    const found = await as.find(entity.publicKey)
    return found.some(f => f.peerId === n.peerId.toString())
  }, 30_000, 500)
})
