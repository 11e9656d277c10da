/**
 * This node's bindings to its entity: the signed statement "entity E runs node
 * P" that hello presents on every connection (kept in the store's meta, so a
 * locked node still presents the last one), and the `bind` records it puts
 * into each group its entity is a member of, so other members find this node
 * later (group-peers.ts). A node built by `cairn recover` publishes none: its
 * peer ID runs only once the recovery completed (recover.ts).
 */
import type { GroupId } from '../crypto/ids.js'
import { toHex } from '../crypto/bytes.js'
import type { HybridClock } from '../crypto/hlc.js'
import type { Acceptor } from '../groups/acceptor.js'
import { roleIn } from '../groups/descriptor-chain.js'
import type { GroupRegistry } from '../groups/registry.js'
import { signBinding } from '../records/binding.js'
import type { Store } from '../store/store.js'
import type { Vault } from '../vault/vault.js'
import { signBindingStatement, type Binding } from './hello.js'

export interface BindingsDeps { store: Store, registry: GroupRegistry, acceptor: Acceptor, clock: HybridClock, vault: Vault | undefined, peerId: () => string, publish: boolean }

export class Bindings {
  private cached: Binding | undefined

  constructor (private readonly d: BindingsDeps) {}

  /** The binding hello presents (absent on keepers and before the first unlock). */
  current (): Binding | undefined {
    if (this.cached !== undefined) return this.cached
    const raw = this.d.store.getMeta('binding')
    if (raw === undefined) return undefined
    try {
      const j = JSON.parse(raw) as { e: string, a: number, s: string }
      this.cached = { e: new Uint8Array(Buffer.from(j.e, 'hex')), a: j.a, s: new Uint8Array(Buffer.from(j.s, 'hex')) }
    } catch { return undefined }
    return this.cached
  }

  /** After unlock: sign a fresh binding and put bind records into every group held. */
  refresh (): void {
    const v = this.d.vault
    if (v === undefined || !v.unlocked) return
    const b = signBindingStatement(v.entityKey(), this.d.peerId())
    this.d.store.putMeta('binding', JSON.stringify({ e: toHex(b.e), a: b.a, s: toHex(b.s) }))
    this.cached = b
    for (const gid of this.d.registry.groupIds()) this.publishIn(gid)
  }

  /** Our own bind record in a group we are a member of (once per peer ID). */
  publishIn (gid: GroupId): void {
    const v = this.d.vault
    if (v === undefined || !v.unlocked || !this.d.publish) return
    const chain = this.d.registry.chain(gid)
    const me = v.entityKey()
    if (chain === undefined || roleIn(chain.current(), me.publicKey) === undefined) return
    const rec = signBinding(me, gid as never, this.d.clock.tick(), this.d.peerId())
    if (this.d.store.getHeadMeta(gid, rec.recordId) !== undefined) return
    this.d.acceptor.ingest([rec], 'local')
  }
}
