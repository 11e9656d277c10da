/**
 * The address book: where this node's group peers (keepers, member nodes) can
 * be reached, kept in the store so a restarted node finds them with no help.
 *
 * Sources: identify (the listen addresses a peer announces after it connected),
 * a successful outbound dial, an address given by the user (add-keeper,
 * add-member, `peers add`, bootstrap), and kad-dht peer routing.
 *
 * Invariants:
 * - Every stored address names its peer (`…/p2p/<peerId>`); an address that
 *   names another peer is refused, so a hint cannot redirect a peer ID.
 * - At most MAX_PER_PEER addresses per peer (the least recently useful go).
 * - Addresses expire: one that failed FAIL_LIMIT dials in a row while another
 *   address of the peer worked since; any address that never worked and failed
 *   for STALE_MS; every address of a peer that is no longer a group peer and
 *   was not seen for FORGET_MS (a finished or aborted recovery's temporary node).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerTables } from '../store/peer-tables.js'
import type { CairnLibp2p } from './libp2p-node.js'

export type AddrSource = 'identify' | 'dial' | 'hint' | 'dht' | 'locate' | 'user' | 'bootstrap'

const MAX_PER_PEER = 16
const FAIL_LIMIT = 5
const STALE_MS = 7 * 86_400_000
const FORGET_MS = 86_400_000

/** `addr` as a dialable multiaddr ending in /p2p/<peer>, or undefined when it is not one. */
export function normalizeAddr (addr: string, peer: string): string | undefined {
  let ma
  try { ma = multiaddr(addr) } catch { return undefined }
  const s = ma.toString()
  if (s.includes('/p2p-circuit') || s.split('/p2p/').length > 2) return undefined
  const named = /\/p2p\/([^/]+)$/.exec(s)?.[1]
  if (named !== undefined) return named === peer ? s : undefined
  if (s.includes('/p2p/')) return undefined
  return `${s}/p2p/${peer}`
}

export class AddressBook {
  constructor (private readonly t: PeerTables, private readonly now: () => number = Date.now) {}

  /** Remember addresses heard of for a peer. Returns the ones kept. */
  remember (peer: string, addrs: string[], source: AddrSource): string[] {
    const kept: string[] = []
    const now = this.now()
    for (const a of addrs) {
      const n = normalizeAddr(a, peer)
      if (n === undefined || kept.includes(n)) continue
      this.t.addrSeen(peer, n, source, now)
      kept.push(n)
    }
    if (kept.length > 0) this.trim(peer)
    return kept
  }

  /** A connection to the peer was made on `addr` (an outbound dial's address). */
  connected (peer: string, addr: string | undefined, source: AddrSource = 'dial'): void {
    const n = addr !== undefined ? normalizeAddr(addr, peer) : undefined
    if (n !== undefined) this.t.addrOk(peer, n, source, this.now())
    else for (const r of this.t.addrsOf(peer)) this.t.addrSeen(peer, r.addr, r.source, this.now())
  }

  /** A dial to the peer failed on every address it tried. */
  dialFailed (peer: string): void { this.t.addrFailed(peer) }

  addrs (peer: string): string[] { return this.t.addrsOf(peer).map(r => r.addr) }

  has (peer: string): boolean { return this.t.addrsOf(peer).length > 0 }

  peers (): string[] { return [...new Set(this.t.allAddrs().map(r => r.peer))] }

  /** Put every stored address into libp2p's peer store (at start), so dials by peer ID use them. */
  async seed (libp2p: CairnLibp2p, wanted: (peer: string) => boolean): Promise<number> {
    const byPeer = new Map<string, string[]>()
    for (const r of this.t.allAddrs()) if (wanted(r.peer)) byPeer.set(r.peer, [...(byPeer.get(r.peer) ?? []), r.addr])
    for (const [peer, addrs] of byPeer) await mergeAddrs(libp2p, peer, addrs)
    return byPeer.size
  }

  /** Drop what expired (see the header). `wanted`: is this peer a group peer now? */
  expire (wanted: (peer: string) => boolean): number {
    const now = this.now()
    const byPeer = new Map<string, ReturnType<PeerTables['allAddrs']>>()
    for (const r of this.t.allAddrs()) byPeer.set(r.peer, [...(byPeer.get(r.peer) ?? []), r])
    let dropped = 0
    for (const [peer, rows] of byPeer) {
      const lastSeen = Math.max(...rows.map(r => Math.max(r.last_seen, r.last_ok ?? 0)))
      if (!wanted(peer) && now - lastSeen > FORGET_MS) { this.t.dropPeer(peer); dropped += rows.length; continue }
      const bestOk = Math.max(...rows.map(r => r.last_ok ?? 0))
      for (const r of rows) {
        const supersededByAnother = r.failures >= FAIL_LIMIT && bestOk > (r.last_ok ?? 0)
        const neverWorked = r.last_ok === null && r.failures >= FAIL_LIMIT && now - r.first_seen > STALE_MS
        const longDead = r.last_ok !== null && r.failures >= FAIL_LIMIT && now - r.last_ok > STALE_MS
        if (supersededByAnother || neverWorked || longDead) { this.t.dropAddr(peer, r.addr); dropped++ }
      }
    }
    return dropped
  }

  private trim (peer: string): void {
    const rows = this.t.addrsOf(peer)
    for (const r of rows.slice(MAX_PER_PEER)) this.t.dropAddr(peer, r.addr)
  }
}

/** Add addresses to libp2p's peer store for a peer (dials by peer ID then use them). */
export async function mergeAddrs (libp2p: CairnLibp2p, peer: string, addrs: string[]): Promise<void> {
  if (addrs.length === 0) return
  try {
    // The peer store keys addresses by peer: it holds them without the /p2p/ suffix.
    await libp2p.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs.map(a => multiaddr(a.replace(/\/p2p\/[^/]+$/, ''))) })
  } catch { /* an unparsable peer ID or address was refused before it was stored */ }
}
