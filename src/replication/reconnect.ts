/**
 * Keeps this node connected to its group peers (keepers and member nodes of
 * every group it holds; on a keeper, the other keepers only: member nodes come
 * and go and dial their keepers themselves) for as long as it runs.
 *
 * - At start, every address of the address book goes into libp2p's peer store
 *   and each group peer is dialled (spread over the first half second).
 * - After a group peer disconnects it is redialled after ~1 s, then with the
 *   dialer's exponential back-off (1 s … 5 min, jittered) for as long as it
 *   stays a group peer: no retry limit, unlike libp2p's KEEP_ALIVE queue,
 *   which gives up after 5 attempts.
 * - Connections to group peers carry a high-value tag, so libp2p's connection
 *   pruner (max_connections) closes other connections first.
 * - What a group peer announces (identify) and where a dial reached it go into
 *   the address book; vanished peers' addresses expire (address-book.ts).
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../util/logger.js'
import type { AddressBook } from './address-book.js'
import type { Dialer } from './dialer.js'
import type { CairnLibp2p } from './libp2p-node.js'

const GROUP_PEER_TAG = 'cairn-group-peer'
const TAG_VALUE = 100
const TICK_MS = 500
const PARALLEL = 4
const WANTED_TTL_MS = 2000
const EXPIRE_EVERY_MS = 3_600_000

export interface ReconnectDeps {
  libp2p: CairnLibp2p
  dialer: Dialer
  book: AddressBook
  /** Peer IDs of every group peer now (keepers, member nodes), never this node. */
  groupPeers: () => string[]
  log: Logger
  random?: () => number
}

export class Reconnector {
  private timer: NodeJS.Timeout | undefined
  private readonly due = new Map<string, number>()
  private readonly dialing = new Set<string>()
  private readonly tagged = new Set<string>()
  private wantedCache: { at: number, set: Set<string> } | undefined
  private lastExpire = 0
  private stopped = false
  private readonly offs: Array<() => void> = []

  constructor (private readonly d: ReconnectDeps) {}

  async start (): Promise<void> {
    const wanted = this.wanted()
    const seeded = await this.d.book.seed(this.d.libp2p, p => wanted.has(p))
    const now = Date.now()
    const rnd = this.d.random ?? Math.random
    for (const p of wanted) this.due.set(p, now + Math.floor(rnd() * 500))
    if (wanted.size > 0) this.d.log.info({ groupPeers: wanted.size, withAddresses: seeded }, 'reconnecting to group peers')
    const on = <K extends 'peer:connect' | 'peer:disconnect' | 'peer:identify'>(ev: K, fn: (e: any) => void): void => {
      this.d.libp2p.addEventListener(ev, fn)
      this.offs.push(() => this.d.libp2p.removeEventListener(ev, fn))
    }
    on('peer:connect', (e: CustomEvent<PeerId>) => { this.onConnect(e.detail.toString()) })
    on('peer:disconnect', (e: CustomEvent<PeerId>) => { this.onDisconnect(e.detail.toString()) })
    on('peer:identify', (e: CustomEvent<{ peerId: PeerId, listenAddrs: Array<{ toString: () => string }> }>) => {
      const peer = e.detail.peerId.toString()
      if (this.wanted().has(peer)) this.d.book.remember(peer, e.detail.listenAddrs.map(String), 'identify')
    })
    this.timer = setInterval(() => { this.tick() }, TICK_MS)
    this.timer.unref()
    this.tick()
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const f of this.offs) f()
  }

  /** The group peers changed (descriptor, bind record, hello): recompute at the next tick. */
  invalidate (): void { this.wantedCache = undefined }

  /** A peer became a group peer after it connected (its hello arrived): keep what it announced. */
  async adopt (peer: string): Promise<void> {
    this.invalidate()
    if (!this.wanted().has(peer)) return
    try {
      const p = await this.d.libp2p.peerStore.get(peerIdFromString(peer))
      this.d.book.remember(peer, p.addresses.map(a => a.multiaddr.toString()), 'identify')
    } catch { /* not in the peer store yet: identify will bring it */ }
    this.d.book.connected(peer, undefined)
    this.tag(peer)
  }

  private wanted (): Set<string> {
    const now = Date.now()
    if (this.wantedCache === undefined || now - this.wantedCache.at > WANTED_TTL_MS) this.wantedCache = { at: now, set: new Set(this.d.groupPeers()) }
    return this.wantedCache.set
  }

  private onConnect (peer: string): void {
    this.d.dialer.connectedNow(peer)
    this.due.delete(peer)
    if (this.wanted().has(peer)) this.tag(peer)
  }

  private onDisconnect (peer: string): void {
    if (this.stopped || !this.wanted().has(peer)) return
    const rnd = this.d.random ?? Math.random
    // Not at once: a peer that is shutting down would refuse it; ~1 s later it is back or gone.
    this.due.set(peer, Date.now() + 800 + Math.floor(rnd() * 400))
    this.d.log.debug({ peer }, 'group peer disconnected; redialling')
  }

  private tag (peer: string): void {
    if (this.tagged.has(peer)) return
    this.tagged.add(peer)
    void this.setTag(peer, { value: TAG_VALUE })
  }

  private async setTag (peer: string, tag: { value: number } | undefined): Promise<void> {
    try {
      await this.d.libp2p.peerStore.merge(peerIdFromString(peer), { tags: { [GROUP_PEER_TAG]: tag } })
    } catch { /* the peer store refused it: pruning order only */ }
  }

  private tick (): void {
    if (this.stopped) return
    const now = Date.now()
    const wanted = this.wanted()
    for (const p of [...this.tagged]) if (!wanted.has(p)) { this.tagged.delete(p); void this.setTag(p, undefined) }
    for (const p of wanted) {
      if (this.dialing.size >= PARALLEL) break
      if (this.dialing.has(p) || this.d.dialer.connected(p)) continue
      if ((this.due.get(p) ?? 0) > now || !this.d.dialer.mayDial(p, now)) continue
      this.dialing.add(p)
      this.d.dialer.ensureConnected(p).then(
        () => { this.d.log.debug({ peer: p }, 'group peer redialled') },
        (e: Error) => { this.d.log.debug({ peer: p, err: e.message }, 'group peer redial failed') }
      ).finally(() => { this.dialing.delete(p) })
    }
    if (now - this.lastExpire > EXPIRE_EVERY_MS) {
      this.lastExpire = now
      try {
        const n = this.d.book.expire(p => wanted.has(p))
        if (n > 0) this.d.log.info({ addresses: n }, 'expired addresses of vanished peers')
      } catch (e) { this.d.log.warn({ err: (e as Error).message }, 'address book expiry failed') }
    }
  }
}
