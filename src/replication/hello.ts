/**
 * /cairn/hello/1.0.0 — who is on the other end of a connection.
 *
 * Each side opens one stream after connecting and sends
 *   { v: 1, peer, keeper, b?: binding, pb?: 1 }   binding = { e: entity(32), a: at(ms), s: sig }
 * and reads the peer's hello. A binding is the entity key's signature over
 *   "cairn/binding/v1" || 0x00 || CBOR{ p: peerId, a: at }
 * so it proves "entity E runs node P". It is accepted only if `peer` equals the
 * connection's authenticated remote peer ID (Noise) and the signature verifies.
 * `pb: 1`: this node takes push bundles (push-bundle.ts); a hello without it
 * (an older node) gets every record as its own gossip message.
 * Nothing else is exchanged: hello never lists groups.
 * Limits: 4 KiB per message, 5 s per exchange; a bad hello is ignored and counted.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { encodeCanonical } from '../crypto/canonical.js'
import { concat, utf8, toHex } from '../crypto/bytes.js'
import { entityIdFromPublicKey, type EntityId } from '../crypto/ids.js'
import { sign, verify, type SigningKey } from '../crypto/sign.js'
import type { CairnLibp2p } from './libp2p-node.js'
import { Channel } from './channel.js'

export const HELLO_PROTOCOL = '/cairn/hello/1.0.0'
const MAX = 4096
const TIMEOUT = 5000

export interface Binding { e: Uint8Array, a: number, s: Uint8Array }
/** `binding`: the signed statement itself, so it can be handed on (locate.ts) and checked by others. */
export interface PeerInfo { peerId: string, keeper: boolean, entity?: Uint8Array, entityId?: EntityId, binding?: Binding, at: number, pushBundles?: true }

const bindingMessage = (peer: string, at: number): Uint8Array => concat(utf8('cairn/binding/v1'), new Uint8Array([0]), encodeCanonical({ p: peer, a: at }))

export function signBindingStatement (entity: SigningKey, peer: string, at = Date.now()): Binding {
  return { e: entity.publicKey, a: at, s: sign(entity, bindingMessage(peer, at)) }
}

export function checkBinding (b: unknown, peer: string): Binding | undefined {
  if (b === null || typeof b !== 'object') return undefined
  const x = b as Record<string, unknown>
  if (!(x.e instanceof Uint8Array) || x.e.length !== 32 || typeof x.a !== 'number' || !Number.isSafeInteger(x.a) || !(x.s instanceof Uint8Array) || x.s.length !== 64) return undefined
  return verify(x.e, bindingMessage(peer, x.a), x.s) ? { e: x.e, a: x.a, s: x.s } : undefined
}

export interface HelloDeps {
  libp2p: CairnLibp2p
  keeper: boolean
  /** The current binding of this node (absent on keepers and before the first unlock). */
  binding: () => Binding | undefined
  onPeer: (info: PeerInfo) => void
  onBad: (peer: string) => void
}

export class HelloService {
  private readonly peers = new Map<string, PeerInfo>()
  /** Streams waiting for a peer's hello (known()); each ends when it comes, is refused, or times out. */
  private readonly waiting = new Map<string, Set<() => void>>()

  constructor (private readonly d: HelloDeps) {}

  async start (): Promise<void> {
    await this.d.libp2p.handle(HELLO_PROTOCOL, (stream, conn) => { void this.answer(stream, conn) }, { maxInboundStreams: 4 })
    this.d.libp2p.addEventListener('peer:connect', (e) => { void this.greet(e.detail) })
    this.d.libp2p.addEventListener('peer:disconnect', (e) => { this.peers.delete(e.detail.toString()) })
  }

  async stop (): Promise<void> { await this.d.libp2p.unhandle(HELLO_PROTOCOL) }

  info (peerId: string): PeerInfo | undefined { return this.peers.get(peerId) }

  /**
   * The peer's hello, waiting up to `ms` for one still on its way: a peer that
   * has just connected may open its first stream (a sync) before this side has
   * read its hello, and must not be refused for that.
   */
  async known (peerId: string, ms = TIMEOUT): Promise<PeerInfo | undefined> {
    const now = this.peers.get(peerId)
    if (now !== undefined || ms <= 0) return now
    return await new Promise(resolve => {
      const set = this.waiting.get(peerId) ?? new Set<() => void>()
      this.waiting.set(peerId, set)
      const done = (): void => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.waiting.get(peerId) === set) this.waiting.delete(peerId)
        resolve(this.peers.get(peerId))
      }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }

  private wake (peerId: string): void { for (const done of [...(this.waiting.get(peerId) ?? [])]) done() }
  all (): PeerInfo[] { return [...this.peers.values()] }
  peersOfEntity (entity: Uint8Array): string[] {
    const hex = toHex(entity)
    return [...this.peers.values()].filter(p => p.entity !== undefined && toHex(p.entity) === hex).map(p => p.peerId)
  }

  private mine (): Record<string, unknown> {
    const b = this.d.binding()
    return { v: 1, peer: this.d.libp2p.peerId.toString(), keeper: this.d.keeper, pb: 1, ...(b !== undefined ? { b } : {}) }
  }

  /** Re-announce (after unlock, when the binding first exists) to every connected peer. */
  async announce (): Promise<void> {
    await Promise.allSettled(this.d.libp2p.getPeers().map(async p => { await this.greet(p) }))
  }

  private async greet (peer: PeerId): Promise<void> {
    let ch: Channel | undefined
    try {
      const stream = await this.d.libp2p.dialProtocol(peer, HELLO_PROTOCOL, { signal: AbortSignal.timeout(TIMEOUT) })
      ch = new Channel(stream, MAX, TIMEOUT)
      await ch.send(this.mine())
      this.learn(await ch.recv(), peer.toString())
      await ch.close()
    } catch {
      ch?.abort('hello failed')
    }
  }

  private async answer (stream: Stream, conn: Connection): Promise<void> {
    const ch = new Channel(stream, MAX, TIMEOUT)
    try {
      const m = await ch.recv()
      await ch.send(this.mine())
      this.learn(m, conn.remotePeer.toString())
      await ch.close()
    } catch {
      ch.abort('hello failed')
    }
  }

  private learn (m: Record<string, unknown>, remote: string): void {
    if (m.v !== 1 || m.peer !== remote || typeof m.keeper !== 'boolean') { this.d.onBad(remote); this.wake(remote); return }
    const b = m.b !== undefined ? checkBinding(m.b, remote) : undefined
    if (m.b !== undefined && b === undefined) { this.d.onBad(remote); this.wake(remote); return }
    const info: PeerInfo = { peerId: remote, keeper: m.keeper, at: Date.now(), ...(m.pb === 1 ? { pushBundles: true as const } : {}), ...(b !== undefined ? { entity: b.e, entityId: entityIdFromPublicKey(b.e), binding: b } : {}) }
    this.peers.set(remote, info)
    this.wake(remote)
    this.d.onPeer(info)
  }
}
