/**
 * Keeps gossipsub's outbound stream to a peer across a replaced connection.
 *
 * gossipsub opens its outbound stream to a peer when the registrar reports the
 * peer connected, which it does once per peer (its topology filter), not once
 * per connection. When the connection that stream runs on closes while another
 * connection to the peer stays open (both sides dialled; a connection aborted
 * and redialled), the stream closes with it and no `peer:disconnect` follows:
 * gossipsub then has no stream to that peer until it fully disconnects, and
 * sends it nothing more: not the records published, not this node's later
 * subscriptions (a keeper adopting groups then is never known as their
 * subscriber, and pushes to it wait for anti-entropy). Seen with 4 nodes adding
 * one keeper to 250 groups each (docs/PERFORMANCE.md "Issue 14, scale").
 *
 * On each closed connection: if the peer still has an open one and gossipsub
 * holds no outbound stream to it, gossipsub is handed that connection as if the
 * peer had just connected (its own handler: it opens the stream and sends every
 * subscription of ours on it). `onPeerConnected` is gossipsub's internal handler
 * (@libp2p/gossipsub 17); if a version renames it, this does nothing.
 */
import type { Connection } from '@libp2p/interface'
import type { CairnLibp2p } from './libp2p-node.js'

/** Time for gossipsub's own close listener to drop the stream of the closed connection. */
const SETTLE_MS = 100

interface GossipInternals {
  streamsOutbound: Map<string, unknown>
  onPeerConnected?: (peerId: Connection['remotePeer'], connection: Connection) => void
}

/** Installs the repair on `libp2p`; returns its removal. */
export function keepGossipStreams (libp2p: CairnLibp2p): () => void {
  const gossip = libp2p.services.pubsub as unknown as GossipInternals
  const timers = new Set<NodeJS.Timeout>()
  const onClose = (e: CustomEvent<Connection>): void => {
    const peer = e.detail.remotePeer
    const t = setTimeout(() => {
      timers.delete(t)
      if (libp2p.status !== 'started' || gossip.streamsOutbound.has(peer.toString())) return
      const open = libp2p.getConnections(peer).find(c => c.status === 'open')
      if (open !== undefined && typeof gossip.onPeerConnected === 'function') gossip.onPeerConnected.call(gossip, peer, open)
    }, SETTLE_MS)
    t.unref()
    timers.add(t)
  }
  libp2p.addEventListener('connection:close', onClose)
  return () => {
    libp2p.removeEventListener('connection:close', onClose)
    for (const t of timers) clearTimeout(t)
  }
}
