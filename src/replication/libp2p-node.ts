/**
 * The libp2p node: TCP, Noise, Yamux, identify, ping, kad-dht (own protocol
 * prefix; peer routing only), gossipsub (StrictNoSign: records carry their own
 * signatures, so message IDs are record hashes), bootstrap list.
 *
 * Loopback-friendly settings (FIELD-NOTES): inbound threshold raised from 5/s,
 * kad-dht keeps private addresses and runs in server mode, so a cluster on one
 * machine finds itself.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { bootstrap } from '@libp2p/bootstrap'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import type { PrivateKey } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { sha256 } from '../crypto/hash.js'
import { STREAM_WINDOW_BYTES } from './channel.js'
import { keepGossipStreams } from './gossip-streams.js'

export const DHT_PROTOCOL = '/cairn/kad/1.0.0'
/**
 * The topics one peer's subscriptions may span (a keeper holding that many groups). gossipsub's
 * defaults ignore a peer's subscriptions past ~956 topics of cairn's length (a per-peer budget of
 * 1 MiB at topic length + 1,024 bytes each) and drop a whole RPC listing more than 5,000 (sent
 * when a gossip stream opens): the owner of any group past those never pushed to the keeper.
 * The budget still bounds what one peer can make us hold (~11 MB by gossipsub's estimate).
 */
export const MAX_PEER_TOPICS = 10_000
/** What gossipsub charges per subscription: the topic's length (push.ts topicOf: 'cairn/g/' + 64 hex) + its 1,024. */
const TOPIC_COST = 'cairn/g/'.length + 64 + 1024
/** Bytes of one subscription in an RPC (topic, its length prefix, the flag, their tags), rounded up. */
const SUBSCRIPTION_BYTES = 80

export interface NetworkInit {
  privateKey: PrivateKey
  listen: string[]
  announce: string[]
  bootstrap: string[]
  dht: boolean
  inboundPerSecond: number
  maxConnections: number
  maxRecordBytes: number
  /** Keep private/loopback addresses in the DHT (true for local clusters). */
  privateAddresses: boolean
}

export type CairnLibp2p = Libp2p<{ identify: unknown, ping: unknown, pubsub: GossipSub, dht?: unknown }>

/** The least time a liveness ping may take before the connection is judged dead and aborted. */
const PING_TIMEOUT_MIN_MS = 15_000

/** gossipsub's own decode limits (it does not export them), but for the subscriptions an RPC may list. */
const DECODE_LIMITS = { maxSubscriptions: 5000, maxMessages: 5000, maxIhaveMessageIDs: 5000, maxIwantMessageIDs: 5000, maxControlMessages: 5000, maxIdontwantMessageIDs: 512, maxPeerInfos: 16 }

/** Gossipsub message ID = SHA-256 of the record bytes (the record hash). */
const msgIdFn = (m: Message): Uint8Array => sha256(m.data)

export async function createNetwork (o: NetworkInit): Promise<CairnLibp2p> {
  const services: Record<string, unknown> = {
    identify: identify(),
    // The connection monitor's pings may overlap (a timeout longer than its 10 s interval, below): one
    // outbound ping stream per connection (the default) made the second ping fail, which aborts the connection.
    ping: ping({ maxOutboundStreams: 3, maxInboundStreams: 4 }),
    pubsub: gossipsub({
      globalSignaturePolicy: StrictNoSign,
      msgIdFn,
      fastMsgIdFn: (m: { data?: Uint8Array }) => Buffer.from(sha256(m.data ?? new Uint8Array(0))).toString('base64'),
      asyncValidation: true,
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      maxInboundDataLength: Math.max(o.maxRecordBytes, MAX_PEER_TOPICS * SUBSCRIPTION_BYTES) + 64 * 1024,
      maxTopicBytesPerPeer: MAX_PEER_TOPICS * TOPIC_COST,
      decodeRpcLimits: { ...DECODE_LIMITS, maxSubscriptions: MAX_PEER_TOPICS },
      heartbeatInterval: 700,
      // No penalty for sharing an IP address. By default more than 10 peers on one address
      // score −5 × (n − 10)² each, below the −80 at which all their RPCs are dropped
      // (subscriptions included): honest nodes share addresses (a NAT, a host running
      // several, loopback), and every record is verified by the Acceptor anyway.
      scoreParams: { IPColocationFactorWeight: 0 }
    })
  }
  if (o.dht) {
    services.dht = kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: o.privateAddresses ? passthroughMapper : removePrivateAddressesMapper
    })
  }
  const node = await createLibp2p({
    privateKey: o.privateKey,
    addresses: { listen: o.listen, announce: o.announce },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // A paused stream (sync backpressure) buffers at most one window: keep
    // the window below the read buffer limit, or the stream would be reset.
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: STREAM_WINDOW_BYTES, maxReadBufferLength: STREAM_WINDOW_BYTES + 2 ** 20 } })],
    peerDiscovery: o.bootstrap.length > 0 ? [bootstrap({ list: o.bootstrap, timeout: 100 })] : [],
    connectionManager: {
      inboundConnectionThreshold: o.inboundPerSecond,
      maxConnections: o.maxConnections,
      maxIncomingPendingConnections: 100,
      dialTimeout: 10_000
    },
    // libp2p pings every connection each 10 s and aborts it when a ping fails. Its
    // default timeout (≥ 5 s) killed healthy connections of a busy keeper: a ping's
    // frames queue behind megabytes of sync batches on the same TCP connection
    // (4 nodes adding a keeper to 250 groups each: ~800 sessions failed with the
    // connection, and pushes were lost across the reconnections). A dead peer is
    // now noticed within ~25 s instead of ~15 s (docs/SYNC.md "Connection liveness").
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS } },
    services: services as never
  })
  keepGossipStreams(node as unknown as CairnLibp2p)
  return node as unknown as CairnLibp2p
}
