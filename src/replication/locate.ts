/**
 * /cairn/locate/1.0.0 — where does an entity's node run? Used to deliver a
 * group to a new member named only by entity ID, whose node this one never met.
 *
 *   → { e: entity(32) }
 *   ← { nodes: [{ p: peerId, a: [multiaddr…], b: binding }] }   (≤ 8 nodes)
 *
 * The answerer lists the nodes connected to it right now whose hello binding
 * (hello.ts: the entity's signature over "entity E runs node P") is for `e`,
 * with that binding, so the asker checks it itself: a lying answerer can hide
 * a node, never redirect one. It answers only a peer that shares a group with
 * it, and only about entities that are members of a group it holds (a keeper
 * locates its own users for its own users), and answers anyone else with an
 * empty list, the same as "not connected".
 *
 * Second path, kad-dht: an unlocked node provides a content ID derived from
 * its entity key (`sha256("cairn/entity/v1" || key)`), so whoever knows the
 * entity ID finds the node's peer ID and addresses; the hello binding then
 * proves the node serves that entity when they connect. Disabled with
 * `network.dht_announce_entity = false` (the node is then found only through
 * shared peers or an address handed out).
 *
 * Limits: 64 B request, 64 KiB answer, the request timeout; one asker's stream
 * at a time per connection.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { concat, equalBytes, utf8 } from '../crypto/bytes.js'
import { sha256 } from '../crypto/hash.js'
import type { Logger } from '../util/logger.js'
import { Channel } from './channel.js'
import { checkBinding, type PeerInfo } from './hello.js'
import type { CairnLibp2p } from './libp2p-node.js'

export const LOCATE_PROTOCOL = '/cairn/locate/1.0.0'
const MAX_ANSWER = 64 * 1024
const MAX_NODES = 8
const ASK_AT_ONCE = 8

export interface Located { peerId: string, addrs: string[] }

export interface LocateDeps {
  libp2p: CairnLibp2p
  timeoutMs: number
  log: Logger
  /** Connected peers with a hello, this node excluded. */
  connectedInfos: () => PeerInfo[]
  /** May this peer ask? (it shares a group with this node) */
  mayAsk: (peer: string) => boolean
  /** May this entity be revealed? (a member of a group held here) */
  mayReveal: (entity: Uint8Array) => boolean
  dht: boolean
}

/** The DHT key under which an entity's nodes are found. */
export function entityCid (entity: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(0x12, sha256(concat(utf8('cairn/entity/v1'), entity))))
}

export class LocateService {
  constructor (private readonly d: LocateDeps) {}

  async start (): Promise<void> {
    await this.d.libp2p.handle(LOCATE_PROTOCOL, (s, c) => { void this.answer(s, c) }, { maxInboundStreams: 1 })
  }

  async stop (): Promise<void> { await this.d.libp2p.unhandle(LOCATE_PROTOCOL) }

  /** Announce in the DHT that this node serves `entity` (kad-dht republishes it); false when it did not land. */
  async announce (entity: Uint8Array): Promise<boolean> {
    if (!this.d.dht) return false
    try {
      await this.d.libp2p.contentRouting.provide(entityCid(entity), { signal: AbortSignal.timeout(30_000) })
      return true
    } catch (e) {
      this.d.log.debug({ err: (e as Error).message }, 'entity announce in the DHT failed; retried at the next connection')
      return false
    }
  }

  /** The peer IDs of `entity`'s nodes, each one's addresses handed to `learn` (the address book) first. */
  async findAndLearn (entity: Uint8Array, learn: (peer: string, addrs: string[]) => Promise<unknown>): Promise<string[]> {
    const found = await this.find(entity)
    for (const l of found) await learn(l.peerId, l.addrs)
    return found.map(l => l.peerId)
  }

  /** Nodes of `entity`, from connected peers first, then from the DHT. */
  async find (entity: Uint8Array): Promise<Located[]> {
    const infos = this.d.connectedInfos().slice(0, ASK_AT_ONCE)
    const answers = await Promise.all(infos.map(async i => await this.ask(peerIdFromString(i.peerId), entity).catch(() => [])))
    const out = new Map<string, Located>()
    for (const l of answers.flat()) out.set(l.peerId, { peerId: l.peerId, addrs: [...new Set([...(out.get(l.peerId)?.addrs ?? []), ...l.addrs])] })
    if (out.size > 0 || !this.d.dht) return [...out.values()]
    try {
      const me = this.d.libp2p.peerId.toString()
      for await (const p of this.d.libp2p.contentRouting.findProviders(entityCid(entity), { signal: AbortSignal.timeout(this.d.timeoutMs) })) {
        const id = p.id.toString()
        if (id !== me) out.set(id, { peerId: id, addrs: p.multiaddrs.map(String) })
        if (out.size >= MAX_NODES) break
      }
    } catch (e) { if (out.size === 0) this.d.log.debug({ err: (e as Error).message }, 'DHT provider lookup failed') }
    return [...out.values()]
  }

  /** Ask one peer; bindings that do not verify for `entity` are dropped. */
  async ask (peer: PeerId, entity: Uint8Array): Promise<Located[]> {
    const stream = await this.d.libp2p.dialProtocol(peer, LOCATE_PROTOCOL, { signal: AbortSignal.timeout(this.d.timeoutMs) })
    const ch = new Channel(stream, MAX_ANSWER, this.d.timeoutMs)
    try {
      await ch.send({ e: entity })
      const r = await ch.recv<{ nodes?: unknown }>()
      await ch.close()
      if (!Array.isArray(r.nodes)) return []
      const out: Located[] = []
      for (const n of r.nodes.slice(0, MAX_NODES) as Array<Record<string, unknown>>) {
        if (n === null || typeof n !== 'object' || typeof n.p !== 'string' || !Array.isArray(n.a)) continue
        const b = checkBinding(n.b, n.p)
        if (b === undefined || !equalBytes(b.e, entity)) continue
        out.push({ peerId: n.p, addrs: n.a.filter((x): x is string => typeof x === 'string' && x.length < 300).slice(0, 8) })
      }
      return out
    } catch (e) {
      ch.abort('locate failed')
      throw e
    }
  }

  private async answer (stream: Stream, conn: Connection): Promise<void> {
    const asker = conn.remotePeer.toString()
    const ch = new Channel(stream, MAX_ANSWER, this.d.timeoutMs)
    try {
      const m = await ch.recv<{ e?: unknown }>()
      const e = m.e
      const nodes: unknown[] = []
      if (e instanceof Uint8Array && e.length === 32 && this.d.mayAsk(asker) && this.d.mayReveal(e)) {
        for (const i of this.d.connectedInfos()) {
          if (i.peerId === asker || i.binding === undefined || !equalBytes(i.binding.e, e)) continue
          const addrs = this.d.libp2p.getConnections(peerIdFromString(i.peerId)).filter(c => c.direction === 'outbound').map(c => c.remoteAddr.toString())
          const known = await this.d.libp2p.peerStore.get(peerIdFromString(i.peerId)).then(p => p.addresses.map(a => a.multiaddr.toString()), () => [])
          nodes.push({ p: i.peerId, a: [...new Set([...known, ...addrs])].slice(0, 8), b: i.binding })
          if (nodes.length >= MAX_NODES) break
        }
      }
      await ch.send({ nodes })
      await ch.close()
    } catch (err) {
      ch.abort('bad locate request')
      this.d.log.debug({ peer: asker, err: (err as Error).message }, 'locate request refused')
    }
  }
}
