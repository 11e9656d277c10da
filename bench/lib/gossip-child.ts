/**
 * Child process for the raw gossipsub baseline (bench/lib/gossip.ts): a libp2p
 * node made by cairn's own createNetwork (src/replication/libp2p-node.ts: TCP,
 * Noise, Yamux, identify, ping, kad-dht, gossipsub with StrictNoSign, message ID
 * = SHA-256 of the data, asynchronous validation, heartbeat 700 ms), with the
 * settings a cairn node runs with (config defaults), and nothing of cairn above it.
 *
 * Driven over IPC (ipc.ts):
 *   info                      {peerId, multiaddr}
 *   dial {addr}               connect to another gossip child
 *   subscribe {topic}         join a plain topic; every message received on it is
 *                             accepted at once (no verification, no store) and its
 *                             sequence number reported: {event:'delivered', seqs:[…]}
 *                             (batched per event-loop turn)
 *   mesh {topic}              peer IDs in our mesh / subscribers of the topic
 *   publish {topic, seq, size}  (cast) publish `size` bytes: 8-byte seq + random bytes
 *   stats                     RSS
 * It exits when the harness disconnects or on SIGTERM.
 */
import '../../src/polyfill/index.js'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { TopicValidatorResult, type GossipsubMessage } from '@libp2p/gossipsub'
import { createNetwork } from '../../src/replication/libp2p-node.js'
import { DEFAULTS } from '../../src/config/schema.js'
import { emitIpc, serveIpc } from './ipc.js'
import { procMemory } from './bench-controls.js'

const libp2p = await createNetwork({
  privateKey: await generateKeyPair('Ed25519'),
  listen: ['/ip4/127.0.0.1/tcp/0'],
  announce: [],
  bootstrap: [],
  dht: DEFAULTS.network.dht,
  inboundPerSecond: DEFAULTS.network.inbound_per_second,
  maxConnections: DEFAULTS.network.max_connections,
  maxRecordBytes: DEFAULTS.replication.max_record_bytes,
  privateAddresses: true
})
const pubsub = libp2p.services.pubsub
const topics = new Set<string>()
let delivered: number[] = []
let flushing = false

pubsub.addEventListener('gossipsub:message', (e: CustomEvent<GossipsubMessage>) => {
  const m = e.detail
  const ours = topics.has(m.msg.topic)
  try {
    (pubsub as unknown as { reportMessageValidationResult: (id: string, from: string, r: TopicValidatorResult) => void })
      .reportMessageValidationResult(m.msgId, m.propagationSource.toString(), ours ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore)
  } catch { /* gone from the cache */ }
  if (!ours || m.msg.data.length < 8) return
  delivered.push(Number(Buffer.from(m.msg.data.buffer, m.msg.data.byteOffset, 8).readBigUInt64BE()))
  if (!flushing) {
    flushing = true
    setImmediate(() => { flushing = false; const seqs = delivered; delivered = []; emitIpc({ event: 'delivered', seqs }) })
  }
})

const pad = randomBytes(64 * 1024)
serveIpc({
  info: () => {
    const a = libp2p.getMultiaddrs().map(String).find(x => x.includes('/tcp/'))!
    return { peerId: libp2p.peerId.toString(), multiaddr: a }
  },
  dial: async (m) => { await libp2p.dial(multiaddr(String(m.addr)), { signal: AbortSignal.timeout(10_000) }); return true },
  subscribe: (m) => { topics.add(String(m.topic)); pubsub.subscribe(String(m.topic)); return true },
  mesh: (m) => ({
    mesh: (pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(String(m.topic)).map(String),
    subscribers: pubsub.getSubscribers(String(m.topic)).map(String)
  }),
  publish: async (m) => {
    const size = Number(m.size)
    const data = new Uint8Array(size)
    // 8-byte sequence number, then random bytes (identical bytes would be dropped as duplicates).
    Buffer.from(data.buffer).writeBigUInt64BE(BigInt(m.seq), 0)
    const off = (Number(m.seq) * 7919) % (pad.length - size)
    data.set(pad.subarray(off, off + size - 8), 8)
    data.set(randomBytes(16), 8)
    await pubsub.publish(String(m.topic), data)
    return true
  },
  stats: () => procMemory('self')
})
process.channel?.unref()
const stop = (): void => { Promise.resolve(libp2p.stop()).finally(() => process.exit(0)) }
process.on('SIGTERM', stop)
process.on('disconnect', stop)
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n')
