/**
 * Connections to peers: dial by peer ID (addresses from the peer store or the
 * DHT) or by address, with a 30 s back-off after a failed dial so timers do
 * not hammer an unreachable peer, and the list of connected peers the API shows.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { CairnError } from '../util/errors.js'
import type { PeerInfo } from './hello.js'
import type { CairnLibp2p } from './libp2p-node.js'

export interface PeerView { peerId: string, addrs: string[], entityId?: string, keeper?: boolean }

const BACKOFF_MS = 30_000

export class Dialer {
  private readonly backoff = new Map<string, number>()

  constructor (private readonly libp2p: CairnLibp2p, private readonly timeoutMs: number, private readonly info: (peer: string) => PeerInfo | undefined) {}

  connected (peer: string): boolean {
    return this.libp2p.getConnections().some(c => c.remotePeer.toString() === peer)
  }

  /** False while a failed dial's back-off lasts. */
  mayDial (peer: string, now = Date.now()): boolean {
    return (this.backoff.get(peer) ?? 0) <= now
  }

  async ensureConnected (peer: string, hint?: string): Promise<void> {
    if (this.connected(peer)) return
    let pid: PeerId
    try { pid = peerIdFromString(peer) } catch { throw new CairnError('INVALID_INPUT', `not a peer ID: ${peer}`) }
    try {
      if (hint !== undefined) await this.libp2p.dial(multiaddr(hint), { signal: AbortSignal.timeout(this.timeoutMs) })
      else await this.libp2p.dial(pid, { signal: AbortSignal.timeout(this.timeoutMs) })
      this.backoff.delete(peer)
    } catch (e) {
      this.backoff.set(peer, Date.now() + BACKOFF_MS)
      throw new CairnError('NO_PEERS', `cannot reach ${peer}: ${(e as Error).message}`)
    }
  }

  peers (): PeerView[] {
    const byPeer = new Map<string, string[]>()
    for (const c of this.libp2p.getConnections()) {
      const id = c.remotePeer.toString()
      byPeer.set(id, [...(byPeer.get(id) ?? []), c.remoteAddr.toString()])
    }
    return [...byPeer.entries()].map(([peerId, addrs]) => {
      const info = this.info(peerId)
      return { peerId, addrs, ...(info?.entityId !== undefined ? { entityId: info.entityId } : {}), ...(info !== undefined ? { keeper: info.keeper } : {}) }
    })
  }

  async dial (addr: string): Promise<PeerView> {
    let ma
    try { ma = multiaddr(addr) } catch { throw new CairnError('INVALID_INPUT', `not a multiaddr: ${addr.slice(0, 100)}`) }
    let conn
    try { conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(this.timeoutMs) }) } catch (e) {
      throw new CairnError('NO_PEERS', `cannot connect to ${addr}: ${(e as Error).message}`)
    }
    return { peerId: conn.remotePeer.toString(), addrs: [conn.remoteAddr.toString()] }
  }
}
