/**
 * Who shares a group with this node: its keepers (descriptor), the connected
 * nodes whose hello binding names one of its members, and the nodes named by
 * its `bind` records; never this node. Computing it reads every bind record of
 * the group, so it is cached per group and recomputed only after something it
 * depends on changed (a descriptor, a bind record, a hello, a disconnect):
 * the write path asks for it on every stored record (replication-state.ts).
 */
import type { GroupId } from '../crypto/ids.js'
import { equalBytes } from '../crypto/bytes.js'
import { roleIn } from '../groups/descriptor-chain.js'
import type { GroupRegistry } from '../groups/registry.js'
import { fromStore } from '../records/record.js'
import type { Store } from '../store/store.js'
import type { HelloService } from './hello.js'

export class GroupPeers {
  private readonly cache = new Map<string, string[]>()

  constructor (private readonly registry: GroupRegistry, private readonly store: Store, private readonly hello: HelloService, private readonly self: () => string) {}

  /** Peer IDs that may hold this group. */
  of (gid: GroupId): string[] {
    let peers = this.cache.get(gid)
    if (peers === undefined) { peers = this.compute(gid); this.cache.set(gid, peers) }
    return peers
  }

  /** Every group's peers (what the reconnector keeps connected). */
  all (): string[] {
    const out = new Set<string>()
    for (const gid of this.registry.groupIds()) for (const p of this.of(gid)) out.add(p)
    return [...out]
  }

  /** The keepers of every group held, this node excluded. */
  keepers (): string[] {
    const out = new Set<string>()
    for (const gid of this.registry.groupIds()) for (const k of this.registry.chain(gid)?.current().k ?? []) out.add(k)
    out.delete(this.self())
    return [...out]
  }

  invalidate (): void { this.cache.clear() }

  /** May `peer` sync `gid` with us: a keeper of it, or a node whose hello binds it to a member. */
  authorized (peer: string, gid: GroupId): boolean {
    const d = this.registry.chain(gid)?.current()
    if (d === undefined) return false
    if (d.k.includes(peer)) return true
    const info = this.hello.info(peer)
    return info?.entity !== undefined && roleIn(d, info.entity) !== undefined
  }

  /** Does `peer` share any group held here? */
  sharesAGroup (peer: string): boolean { return this.registry.groupIds().some(g => this.authorized(peer, g)) }

  /** Is the entity a member of any group held here? */
  memberAnywhere (entity: Uint8Array): boolean {
    return this.registry.groupIds().some(g => { const d = this.registry.chain(g)?.current(); return d !== undefined && roleIn(d, entity) !== undefined })
  }

  /** Peer IDs serving an entity: connected nodes with its hello binding, then its bind records (in `gid` first). */
  nodesOf (pub: Uint8Array, gid?: GroupId): string[] { return [...this.eachNodeOf(pub, gid)] }

  /**
   * nodesOf one at a time: the bind records (every group's, parsed) are read only
   * if the connected nodes were not enough for the caller, who usually stops at the
   * first (a circle share request asks one node per holder).
   */
  * eachNodeOf (pub: Uint8Array, gid?: GroupId): Generator<string> {
    const seen = new Set([this.self()])
    const fresh = (p: string): boolean => !seen.has(p) && seen.add(p).size > 0
    for (const p of this.hello.peersOfEntity(pub)) if (fresh(p)) yield p
    const groups = gid !== undefined ? [gid, ...this.registry.groupIds().filter(g => g !== gid)] : this.registry.groupIds()
    for (const g of groups) {
      for (const row of this.store.allOfKind(g, 'bind')) {
        const r = fromStore(row, 'bind')
        if (equalBytes(r.rec.s, pub) && fresh(r.rec.b.peer)) yield r.rec.b.peer
      }
    }
  }

  /**
   * The group's peers a record stored here did not reach by push: for our own
   * write (`pushed`), those not connected or not subscribed to the topic; for a
   * record we received, those not connected (the mesh forwards it to the rest);
   * in a taciturn group, all of them (nothing is pushed).
   */
  missedBy (gid: GroupId, pushed: boolean, connected: (peer: string) => boolean, subscribers: (gid: GroupId) => Set<string>): string[] {
    const peers = this.of(gid)
    if (peers.length === 0) return peers
    if (this.registry.chain(gid)?.current().cul !== 'chatty') return peers
    const subs = pushed ? subscribers(gid) : undefined
    return peers.filter(p => !connected(p) || (subs !== undefined && !subs.has(p)))
  }

  private compute (gid: GroupId): string[] {
    const d = this.registry.chain(gid)?.current()
    if (d === undefined) return []
    const out = new Set<string>(d.k)
    for (const info of this.hello.all()) if (info.entity !== undefined && roleIn(d, info.entity) !== undefined) out.add(info.peerId)
    for (const row of this.store.allOfKind(gid, 'bind')) {
      const r = fromStore(row, 'bind')
      if (roleIn(d, r.rec.s) !== undefined) out.add(r.rec.b.peer)
    }
    out.delete(this.self())
    return [...out]
  }
}
