/**
 * The keepers' copy of this node's audit checkpoints (records/audit-copy.ts):
 * every signed checkpoint is sealed with the personal group key, signed by the
 * entity and stored in the personal group, whose keepers receive it by push
 * and sync like any record. Checkpoints written while the vault is locked are
 * copied at the next unlock (`audit.copied` in meta is how far copying got;
 * a copy made twice is the same record, stored once).
 *
 * verify() checks the local log against the copies after refreshing them
 * from the keepers (the caller's `refresh`: a sync of the personal group), so
 * copies deleted from this node's own store come back before the comparison.
 */
import type { AuditVerdict, Checkpoint } from '../audit/audit-log.js'
import { combineVerdicts, compareWithCopies } from '../audit/keeper-check.js'
import type { ChainVerdict } from '../audit/chain.js'
import { toHex } from '../crypto/bytes.js'
import type { GroupId } from '../crypto/ids.js'
import { openAuditCopy, sealAuditCopy, type CopiedCheckpoint } from '../records/audit-copy.js'
import { fromStore } from '../records/record.js'
import type { GroupContext } from './context.js'

const COPIED = 'audit.copied'

export interface NodeIdentity { peerId: string, publicKey: Uint8Array }

export class AuditCopies {
  constructor (private readonly ctx: GroupContext, private readonly node: NodeIdentity) {}

  /** The personal group, when this node can write to it now (an unlocked entity node that holds it). */
  private personal (): GroupId | undefined {
    const v = this.ctx.vault
    if (v === undefined || !v.unlocked) return undefined
    const pg = v.personalGroupId()
    return this.ctx.registry.has(pg) ? pg : undefined
  }

  /** Copy every checkpoint written since the last copy. Returns how many were copied. */
  copyPending (): number {
    const pg = this.personal()
    if (pg === undefined) return 0
    const vault = this.ctx.vault!
    const kv = this.ctx.registry.chain(pg)!.current().kv
    const key = vault.ring(pg)?.get(kv)
    if (key === undefined) return 0
    const pending = this.ctx.audit.checkpointsSince(Number(this.ctx.store.getMeta(COPIED) ?? 0))
    if (pending.length === 0) return 0
    const recs = pending.map(c => sealAuditCopy(vault.entityKey(), pg, this.ctx.clock.tick(), kv, key, this.copyOf(c)))
    this.ctx.store.tx(() => {
      this.ctx.acceptor.ingest(recs, 'local')
      this.ctx.store.putMeta(COPIED, String(pending.at(-1)!.seq))
    })
    return recs.length
  }

  private copyOf (c: Checkpoint): CopiedCheckpoint {
    return { peer: this.node.peerId, key: toHex(this.node.publicKey), upTo: c.upTo, head: c.head, sig: c.sig, at: c.at }
  }

  /** This node's checkpoints as the personal group holds them (other devices' copies are theirs). */
  copies (): CopiedCheckpoint[] {
    const pg = this.personal()
    if (pg === undefined) return []
    const ring = this.ctx.vault!.ring(pg)
    const out: CopiedCheckpoint[] = []
    for (const row of this.ctx.store.allOfKind(pg, 'audit-copy')) {
      try {
        const r = fromStore(row, 'audit-copy')
        const key = ring?.get(r.rec.b.kv)
        if (key === undefined) continue
        const c = openAuditCopy(r, key)
        if (c.peer === this.node.peerId) out.push(c)
      } catch { /* a damaged copy is no evidence either way; group verify names it */ }
    }
    return out
  }

  /**
   * The local verdict combined with the keepers' copy. Without a personal
   * group to read (a keeper, a locked vault) the local verdict stands alone,
   * and says why the copy was not compared.
   */
  async verify (local: ChainVerdict, refresh: (gid: GroupId) => Promise<{ refreshed: boolean, error?: string }>): Promise<AuditVerdict> {
    const pg = this.personal()
    if (pg === undefined) {
      if (this.ctx.vault === undefined) return local
      return { ...local, keepers: { refreshed: false, checkpoints: 0, newestUpTo: 0, ok: true, error: 'the vault is locked: unlock it to compare with the keepers\' copy' } }
    }
    // No keeper, no copy: say so rather than "nothing to compare yet" (and do not wait for a sync that cannot happen).
    if ((this.ctx.registry.chain(pg)?.current().k.length ?? 0) === 0) {
      return { ...local, keepers: { refreshed: false, checkpoints: 0, newestUpTo: 0, ok: true, noKeeper: true, error: 'the personal group has no keeper' } }
    }
    const r = await refresh(pg)
    const check = compareWithCopies(this.copies(), this.node.publicKey, this.ctx.audit.tailSeq, seq => this.ctx.audit.hashAt(seq), r.refreshed, r.error)
    return combineVerdicts(local, check)
  }
}
