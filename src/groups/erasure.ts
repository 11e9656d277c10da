/**
 * Erasure that reaches copies (SPEC §6; docs/MEMBERSHIP.md). A copy made by
 * "share" carries, inside its encrypted plaintext, a `shared-from` link to its
 * source item. The source's tombstone is the signed erasure request: it names
 * the item and is signed by its author or an admin, and it replicates to every
 * member of the source group — the only nodes that could read the source, so
 * the only ones that can hold a copy.
 *
 * On a node that stores such a tombstone (or, locked then, at its next unlock):
 *   1. the copies of that item in the groups it holds: an in-memory map
 *      (CopyIndex), filled as items are decrypted (search indexing), never on
 *      disk — which groups share what is as private as the content;
 *   2. each copy this entity may delete (its author, or an owner/admin of the
 *      copy's group) is deleted — its tombstone purges it on every node of that
 *      group — unless `membership.honour_erasure` is off: then it is refused
 *      with reason `policy`. Audited per copy (`copy-erased`, `copy-erasure-refused`);
 *   3. one `erasure` report into the source group (sealed with its key): per copy,
 *      what was done. The deleter's node audits every report it receives.
 * Copies of copies are reached the same way: a copy's tombstone is a request in its group.
 */
import { clockToIso } from '../crypto/hlc.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import { canAdmin } from '../records/descriptor.js'
import { erasureId, openErasureReport, reportedItem, signErasureReport, type CopyOutcome, type ErasureBody } from '../records/erasure.js'
import type { ItemBody, ItemPlain } from '../records/item.js'
import { fromStore, hasKind, type DecodedRecord } from '../records/record.js'
import { CairnError, isCairnError } from '../util/errors.js'
import { requireRole } from './access.js'
import type { GroupContext } from './context.js'
import { roleIn } from './descriptor-chain.js'
import type { GroupService } from './group-service.js'

/** Source item → the copies of it this node holds, and back. Memory only. */
export class CopyIndex {
  private readonly bySource = new Map<string, Set<string>>()
  private readonly byCopy = new Map<string, string>()

  /** An item version was opened: remember its source link, if any. */
  note (gid: GroupId, rid: string, plain: ItemPlain): void {
    const key = `${gid} ${rid}`
    const src = plain.src?.item
    const prev = this.byCopy.get(key)
    if (prev === src) return
    if (prev !== undefined) this.bySource.get(prev)?.delete(key)
    if (src === undefined) { this.byCopy.delete(key); return }
    this.byCopy.set(key, src)
    let set = this.bySource.get(src)
    if (set === undefined) { set = new Set(); this.bySource.set(src, set) }
    set.add(key)
  }

  forget (gid: GroupId, rid: string): void {
    const key = `${gid} ${rid}`
    const src = this.byCopy.get(key)
    if (src === undefined) return
    this.byCopy.delete(key)
    this.bySource.get(src)?.delete(key)
  }

  copiesOf (source: string): Array<{ gid: GroupId, rid: string }> {
    return [...this.bySource.get(source) ?? []].map(k => { const [gid, rid] = k.split(' '); return { gid: gid! as GroupId, rid: rid! } })
  }

  clear (): void { this.bySource.clear(); this.byCopy.clear() }
}

export interface ErasureOptions {
  /** membership.honour_erasure: delete copies when their source is erased (false: refuse, and say so). */
  honour: boolean
}

/** What items/ does for this (groups/ does not import it): delete one copy as this entity. */
export type DeleteCopy = (itemId: string) => void

export interface ErasureView { itemId: string, groupId: GroupId, reports: Array<{ by: string, at: string, copies: CopyOutcome[] }> }

export class ErasureService {
  private deleteCopy: DeleteCopy | undefined
  /** Tombstones seen while the vault was locked: handled at unlock. */
  private readonly waiting: Array<DecodedRecord<ItemBody>> = []
  /** Whether the copy index is whole: it is built with the search index after each unlock. */
  private indexed = false

  constructor (private readonly ctx: GroupContext, private readonly groups: GroupService, readonly copies: CopyIndex, private readonly o: ErasureOptions) {}

  setDeleter (fn: DeleteCopy): void { this.deleteCopy = fn }

  /** A stored item version (the `erasure` effect): a tombstone asks for its copies to go. */
  stored (r: DecodedRecord): void {
    if (!hasKind(r, 'item')) return
    if (!r.rec.b.del || this.ctx.vault === undefined) return // a keeper holds no copy it could read
    this.copies.forget(r.groupId, r.recordId)
    // Locked, or the copy index still filling: a copy it has not seen yet would be missed.
    if (!this.ctx.vault.unlocked || !this.indexed) { if (this.waiting.length < 10_000) this.waiting.push(r); return }
    this.erase(r)
  }

  /** The copy index is cleared to be built again (an unlock): tombstones wait for it. */
  indexing (): void { this.indexed = false }

  /** The copy index is whole (the build after an unlock ended): the tombstones that came while locked or while it filled. */
  indexComplete (): void {
    this.indexed = true
    for (const r of this.waiting.splice(0)) this.erase(r)
  }

  private erase (r: DecodedRecord<ItemBody>): void {
    const found = this.copies.copiesOf(r.recordId).filter(c => c.gid !== r.groupId)
    if (found.length === 0) return
    const me = this.ctx.vault!.entityKey()
    const outcomes: CopyOutcome[] = []
    for (const c of found) {
      const base = { groupId: c.gid, itemId: c.rid }
      const head = this.ctx.store.getHeadMeta(c.gid, c.rid)
      if (head === undefined || head.tomb === 1) { outcomes.push({ ...base, action: 'already-deleted' }); this.copies.forget(c.gid, c.rid); continue }
      const d = this.ctx.registry.chain(c.gid)?.current()
      const mine = head.author !== null && Buffer.compare(head.author, Buffer.from(me.publicKey)) === 0
      const refuse = (reason: string): void => {
        outcomes.push({ ...base, action: 'refused', reason })
        this.ctx.audit.record('copy-erasure-refused', { sourceGroup: r.groupId, sourceItem: r.recordId, groupId: c.gid, itemId: c.rid, reason, requestedBy: r.signer })
      }
      if (!this.o.honour) { refuse('policy'); continue }
      if (d === undefined || (!mine && !canAdmin(roleIn(d, me.publicKey)))) { refuse('not-permitted'); continue }
      try {
        this.deleteCopy?.(c.rid)
        outcomes.push({ ...base, action: 'deleted' })
        this.copies.forget(c.gid, c.rid)
        this.ctx.audit.record('copy-erased', { sourceGroup: r.groupId, sourceItem: r.recordId, groupId: c.gid, itemId: c.rid, requestedBy: r.signer })
      } catch (e) {
        if (!isCairnError(e)) throw e
        refuse(e.code === 'APPEND_ONLY' ? 'append-only' : e.code.toLowerCase())
      }
    }
    this.report(r, outcomes)
  }

  /** One sealed report into the source group, so its author sees per copy what was done. */
  private report (r: DecodedRecord<ItemBody>, copies: CopyOutcome[]): void {
    const chain = this.ctx.registry.chain(r.groupId)
    if (chain === undefined) return
    const kv = chain.current().kv
    let key: Uint8Array
    try { key = this.groups.keyFor(r.groupId, kv) } catch (e) {
      // A sealed circle: the copies are handled, the report waits for nobody.
      this.ctx.audit.record('erasure-report-unwritten', { groupId: r.groupId, itemId: r.recordId, reason: (e as CairnError).code ?? 'error' })
      return
    }
    const rec = signErasureReport(this.ctx.vault!.entityKey(), r.groupId, this.ctx.clock.tick(), r.recordId, kv, key, { copies })
    this.ctx.acceptor.ingest([rec], 'local')
  }

  /** A report stored here (the `erasure-report` effect): audited on the side that asked. */
  reported (r: DecodedRecord): void {
    if (!hasKind(r, 'erasure')) return
    let copies: CopyOutcome[] | undefined
    try { copies = openErasureReport(r, this.groups.keyFor(r.groupId, r.rec.b.kv)).copies } catch { copies = undefined }
    this.ctx.audit.record('erasure-report-received', {
      groupId: r.groupId, itemId: reportedItem(r.rec.b), by: r.signer,
      ...(copies !== undefined ? { deleted: copies.filter(c => c.action !== 'refused').length, refused: copies.filter(c => c.action === 'refused').length, copies } : { unreadable: true })
    })
  }

  /** What every reporter said about the copies of a deleted item (GET /items/:id/erasure). */
  view (itemId: string): ErasureView {
    const gid = this.ctx.store.findRecord(itemId)?.gid ?? this.groupWithReportsOn(itemId)
    if (gid === undefined) throw new CairnError('NOT_FOUND', `no item ${itemId.slice(0, 64)} (and no erasure report about it) on this node`)
    requireRole(this.ctx, gid, 'read')
    const reports: ErasureView['reports'] = []
    for (const row of this.ctx.store.allOfKind(gid, 'erasure')) {
      const r = fromStore(row, 'erasure') as DecodedRecord<ErasureBody>
      if (reportedItem(r.rec.b) !== itemId) continue
      let copies: CopyOutcome[] = []
      try { copies = openErasureReport(r, this.groups.keyFor(gid, r.rec.b.kv)).copies } catch { continue }
      reports.push({ by: entityIdFromPublicKey(r.rec.s), at: clockToIso(r.rec.c), copies })
    }
    return { itemId, groupId: gid, reports }
  }

  /** The item's tombstone may have expired: its reports still name it. */
  private groupWithReportsOn (itemId: string): GroupId | undefined {
    const v = this.ctx.vault
    if (v === undefined || !v.unlocked) return undefined
    for (const gid of this.ctx.registry.groupIds()) {
      if (this.ctx.store.getHeadMeta(gid, erasureId(gid, itemId, v.entityKey().publicKey)) !== undefined) return gid
      for (const row of this.ctx.store.allOfKind(gid, 'erasure')) if (reportedItem(fromStore(row, 'erasure').rec.b as ErasureBody) === itemId) return gid
    }
    return undefined
  }
}
