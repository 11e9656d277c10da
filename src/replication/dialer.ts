/**
 * Connections to peers: dial by peer ID with the addresses of the address book
 * (address-book.ts), then kad-dht peer routing when none works, with an
 * exponential back-off (1 s … 5 min, ±20 % jitter) after a failed dial so timers
 * do not hammer an unreachable peer; and the list of connected peers the API shows.
 *
 * Why not `libp2p.dial(peerId)` alone: with no known address it blocks in a
 * DHT lookup for the whole timeout, and libp2p's dial queue merges any later
 * dial of the same peer into that pending one — so an address given a moment
 * later (add-keeper with --multiaddr) waited for the lookup to time out, and the
 * first delivery landed only after two request timeouts (measured: 20 s with the
 * default 10 s). Here the lookup runs outside the dial queue, an address hint is
 * stored before any dial, and concurrent calls for one peer share one attempt.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { CairnError } from '../util/errors.js'
import { mergeAddrs, normalizeAddr, type AddressBook, type AddrSource } from './address-book.js'
import type { PeerInfo } from './hello.js'
import type { CairnLibp2p } from './libp2p-node.js'

export interface PeerView { peerId: string, addrs: string[], entityId?: string, keeper?: boolean }

const BACKOFF_MIN_MS = 1000
const BACKOFF_MAX_MS = 300_000
/** A DHT lookup on top of failed addresses: bounded, so one unknown peer cannot hold a caller long. */
const LOOKUP_MAX_MS = 5000

export interface DialerDeps {
  libp2p: CairnLibp2p
  book: AddressBook
  timeoutMs: number
  info: (peer: string) => PeerInfo | undefined
  /** Jitter source (tests make it deterministic). */
  random?: () => number
}

interface Backoff { attempts: number, until: number, lastError: string }

export class Dialer {
  private readonly backoff = new Map<string, Backoff>()
  private readonly inflight = new Map<string, { p: Promise<void>, tried: Set<string> }>()

  constructor (private readonly d: DialerDeps) {}

  private get libp2p (): CairnLibp2p { return this.d.libp2p }

  connected (peer: string): boolean {
    return this.libp2p.getConnections().some(c => c.remotePeer.toString() === peer && c.status === 'open')
  }

  /** False while a failed dial's back-off lasts. */
  mayDial (peer: string, now = Date.now()): boolean {
    return (this.backoff.get(peer)?.until ?? 0) <= now
  }

  /** When the next dial may happen (0 = now), and the last dial error. */
  backoffOf (peer: string): { until: number, attempts: number, lastError?: string } {
    const b = this.backoff.get(peer)
    return b === undefined ? { until: 0, attempts: 0 } : { until: b.until, attempts: b.attempts, lastError: b.lastError }
  }

  /** Remember an address for a peer (before dialling it, so every later dial by ID uses it). */
  async learn (peer: string, addrs: string[], source: AddrSource): Promise<string[]> {
    const kept = this.d.book.remember(peer, addrs, source)
    await mergeAddrs(this.libp2p, peer, kept)
    return kept
  }

  /**
   * Connected to `peer`, or a CairnError NO_PEERS saying why not. `hint`: an
   * address for it (with or without /p2p/); one naming another peer is refused.
   */
  async ensureConnected (peer: string, hint?: string): Promise<void> {
    if (this.connected(peer)) return
    let pid: PeerId
    try { pid = peerIdFromString(peer) } catch { throw new CairnError('INVALID_INPUT', `not a peer ID: ${peer}`) }
    let hinted: string | undefined
    if (hint !== undefined) {
      hinted = normalizeAddr(hint, peer)
      if (hinted === undefined) throw new CairnError('INVALID_INPUT', `${hint.slice(0, 200)} is not an address of ${peer}`)
      await this.learn(peer, [hinted], 'hint')
    }
    const cur = this.inflight.get(peer)
    // A new address given while an attempt is under way is tried at once, not after it.
    if (cur !== undefined && (hinted === undefined || cur.tried.has(hinted))) return await cur.p
    const tried = new Set<string>()
    const p = this.attempt(peer, pid, tried).finally(() => { if (this.inflight.get(peer)?.p === p) this.inflight.delete(peer) })
    this.inflight.set(peer, { p, tried })
    return await p
  }

  private async attempt (peer: string, pid: PeerId, tried: Set<string>): Promise<void> {
    const errors: string[] = []
    const dialAddrs = async (addrs: string[]): Promise<boolean> => {
      const fresh = addrs.filter(a => !tried.has(a))
      if (fresh.length === 0) return false
      for (const a of fresh) tried.add(a)
      try {
        const conn = await this.libp2p.dial(fresh.map(a => multiaddr(a)), { signal: AbortSignal.timeout(this.d.timeoutMs) })
        this.d.book.connected(peer, conn.remoteAddr.toString())
        return true
      } catch (e) {
        errors.push((e as Error).message)
        return false
      }
    }
    if (await dialAddrs(this.d.book.addrs(peer))) return this.succeeded(peer)
    // Nothing stored worked: ask the DHT where the peer is now — unless it
    // connects meanwhile (it dialled us, or a hint given later reached it).
    const lookup = new AbortController()
    const timer = setTimeout(() => lookup.abort(), Math.min(this.d.timeoutMs, LOOKUP_MAX_MS))
    const onConnect = (e: CustomEvent<PeerId>): void => { if (e.detail.toString() === peer) lookup.abort() }
    this.libp2p.addEventListener('peer:connect', onConnect)
    try {
      const info = await this.libp2p.peerRouting.findPeer(pid, { signal: lookup.signal })
      const found = await this.learn(peer, info.multiaddrs.map(String), 'dht')
      if (await dialAddrs(found)) return this.succeeded(peer)
    } catch (e) {
      errors.push(`peer routing: ${(e as Error).message}`)
    } finally {
      clearTimeout(timer)
      this.libp2p.removeEventListener('peer:connect', onConnect)
    }
    if (this.connected(peer)) return this.succeeded(peer) // it dialled us meanwhile
    this.d.book.dialFailed(peer)
    const lastError = tried.size === 0 ? `no address known for ${peer} (${errors.join('; ')})` : errors.join('; ')
    const prev = this.backoff.get(peer)
    const attempts = (prev?.attempts ?? 0) + 1
    const jitter = 0.8 + 0.4 * (this.d.random ?? Math.random)()
    this.backoff.set(peer, { attempts, until: Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempts - 1, 16)) * jitter, lastError })
    throw new CairnError('NO_PEERS', `cannot reach ${peer}: ${lastError}`)
  }

  private succeeded (peer: string): void { this.backoff.delete(peer) }

  /** A connection exists (whoever dialled): the back-off no longer applies. */
  connectedNow (peer: string): void { this.backoff.delete(peer) }

  peers (): PeerView[] {
    const byPeer = new Map<string, string[]>()
    for (const c of this.libp2p.getConnections()) {
      const id = c.remotePeer.toString()
      byPeer.set(id, [...(byPeer.get(id) ?? []), c.remoteAddr.toString()])
    }
    return [...byPeer.entries()].map(([peerId, addrs]) => {
      const info = this.d.info(peerId)
      return { peerId, addrs, ...(info?.entityId !== undefined ? { entityId: info.entityId } : {}), ...(info !== undefined ? { keeper: info.keeper } : {}) }
    })
  }

  /** Dial an address the user gave (`cairn peers add`); it is remembered once the peer answers. */
  async dial (addr: string): Promise<PeerView> {
    let ma
    try { ma = multiaddr(addr) } catch { throw new CairnError('INVALID_INPUT', `not a multiaddr: ${addr.slice(0, 100)}`) }
    let conn
    try { conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(this.d.timeoutMs) }) } catch (e) {
      throw new CairnError('NO_PEERS', `cannot connect to ${addr}: ${(e as Error).message}`)
    }
    const peer = conn.remotePeer.toString()
    this.d.book.connected(peer, conn.remoteAddr.toString(), 'user')
    this.backoff.delete(peer)
    return { peerId: peer, addrs: [conn.remoteAddr.toString()] }
  }
}
