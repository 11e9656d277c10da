/**
 * Bare cairn libp2p nodes (createNetwork: TCP on loopback, the daemon's own
 * gossipsub settings) in this process, for tests of the network layer alone.
 * Every node made here is stopped by stopNodes() (call it in an `after` hook).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'

const nodes: CairnLibp2p[] = []

export async function bareNode (o: { dht?: boolean } = {}): Promise<CairnLibp2p> {
  const n = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: o.dht === true, inboundPerSecond: 100, maxConnections: 50, maxRecordBytes: 1 << 20, privateAddresses: true })
  nodes.push(n)
  return n
}

export async function stopNodes (): Promise<void> {
  await Promise.all(nodes.splice(0).map(async n => await n.stop()))
}
