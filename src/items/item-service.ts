/**
 * Item operations on a member node: create, update, delete (tombstone), get
 * with provenance, list, raw ciphertext listing, and copy-on-write share.
 * Writes seal with the group's current key, sign with the entity key, and go
 * through the Acceptor; a 201 is returned only after the transaction commits.
 */
import { equalBytes, toB64, toHex } from '../crypto/bytes.js'
import { clockToIso } from '../crypto/hlc.js'
import { entityIdFromPublicKey, isRecordId, type GroupId } from '../crypto/ids.js'
import { commitmentOf, contentHashOf, openItem, sealItemUnsigned, type ItemBody, type ItemPlain, type Json, type SealItemInput } from '../records/item.js'
import { decodeRecord, fromStore, salvageBody, signRecord, type DecodedRecord, type VerifiedRecord } from '../records/record.js'
import { itemIdFor } from '../records/item.js'
import { canAdmin } from '../records/descriptor.js'
import type { RecordRow } from '../store/store.js'
import type { GroupCommit } from '../store/group-commit.js'
import { BatchSigner } from './batch-signer.js'
import { CairnError, IntegrityError, InvalidInputError, isCairnError } from '../util/errors.js'
import { requireChain, requireRole, requireVault } from '../groups/access.js'
import type { GroupContext } from '../groups/context.js'
import type { GroupService } from '../groups/group-service.js'
import { roleIn } from '../groups/descriptor-chain.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { amendOf, amendmentBy, amendmentsOf, entryViewOf, linkFor, type Amend, type EntryView } from './append-only.js'
import { assertBoundedStructure } from '../util/bounds.js'

/** `corrects` / `redacts`: in an append-only group, the ID of the entry this new entry amends. */
export interface ItemInput { content: Json, type?: string, meta?: Record<string, Json> | null, corrects?: string, redacts?: string }
export interface WriteResult { id: string, groupId: GroupId, author: string, keyVersion: number, updatedAt: string, contentHash: string }

export interface ProvenanceEntry {
  action: 'created' | 'modified' | 'reencrypted' | 'deleted' | 'shared-from' | 'imported-from'
  by: string, at: string, hash: string, signature: string, keyVersion: number
  source?: { groupId: string, itemId: string, hash: string, author?: string }
  /** Carried over from an export: its hash and signature are of the source group's records, not checked here. */
  imported?: true
}

export interface ItemView {
  id: string, groupId: GroupId, type: string, content: Json, meta: Record<string, Json> | null,
  author: string, createdAt: string, updatedAt: string, keyVersion: number, contentHash: string, provenance: ProvenanceEntry[]
  /** Entries of append-only groups: the entry's place in the log. */
  entry?: EntryView
  /** A redaction in force: content and meta are not served (null); the entry keeps its place. */
  redacted?: { entry: string, by: string, at: string }
  /** Corrections in force: content, type and meta are the latest correction's; `original` is the entry's own. */
  corrected?: { entry: string, by: string, at: string, original: { type: string, content: Json, meta: Record<string, Json> | null } }
}

export interface RawItem { id: string, kind: string, keyVersion: number, author: string | null, signer: string, updatedAt: string, tombstone: boolean, size: number, hash: string, ciphertext: string }

const MAX_TYPE = 100

/** What a new version of an item needs from the one it replaces. */
type Previous = NonNullable<SealItemInput['existing']>
const previousOf = (r: DecodedRecord<ItemBody>): Previous => ({ author: r.rec.b.a, nonce: r.rec.b.n, prevHash: r.hash })
const KEY_USAGE_LIMIT = 2 ** 31
const KEY_USAGE_ROTATE_AT = 2 ** 30

export class ItemService {
  private batchSigner: BatchSigner | undefined
  /** Records sealed here → their plaintext (sealedHere). */
  private readonly sealed = new WeakMap<object, ItemPlain>()

  constructor (private readonly ctx: GroupContext, private readonly groups: GroupService) {}

  /** New items written through `writes` are signed one batch at a time (batch-signer.ts). */
  signInBatches (writes: GroupCommit): void { this.batchSigner = new BatchSigner(writes) }

  create (gid: GroupId, inp: ItemInput): WriteResult {
    const { chain } = requireRole(this.ctx, gid, 'write')
    const amend = amendOf(inp, chain.current().ao)
    const plain = this.plainFrom(inp, this.ctx.clock.peek())
    return this.write(gid, chain.current().kv, plain, undefined, { amend, batch: true })
  }

  update (id: string, inp: Partial<ItemInput>): WriteResult {
    const { row, rec } = this.head(id)
    const { chain, role } = requireRole(this.ctx, row.gid, 'write')
    if (chain.current().ao) throw new CairnError('APPEND_ONLY', `this group is append-only: add a correction instead (POST /api/v1/groups/${row.gid}/items with "corrects": "${id}")`)
    const me = requireVault(this.ctx).entityKey().publicKey
    if (!canAdmin(role) && !equalBytes(rec.rec.b.a, me)) throw new CairnError('FORBIDDEN', 'members may change only their own items')
    if (rec.rec.b.del) throw new CairnError('NOT_FOUND', `item ${id} was deleted`)
    const old = openItem(rec, this.groups.keyFor(row.gid, rec.rec.b.kv))
    if (inp.content === undefined) throw new InvalidInputError('content is required')
    const plain = this.plainFrom({ content: inp.content, type: inp.type ?? old.type, meta: inp.meta === undefined ? old.meta : inp.meta }, old.createdAt)
    if (old.src !== undefined) plain.src = old.src
    if (old.imp !== undefined) plain.imp = old.imp
    return this.write(row.gid, chain.current().kv, plain, previousOf(rec))
  }

  remove (id: string): { id: string, groupId: GroupId, deleted: true, updatedAt: string } {
    const { row, prev, deleted } = this.headForDelete(id)
    const { chain, role } = requireRole(this.ctx, row.gid, 'write')
    if (chain.current().ao) throw new CairnError('APPEND_ONLY', `this group is append-only: entries cannot be deleted; add a redaction instead (POST /api/v1/groups/${row.gid}/items with "redacts": "${id}"), which stops its content being served`)
    const me = requireVault(this.ctx).entityKey().publicKey
    if (!canAdmin(role) && !equalBytes(prev.author, me)) throw new CairnError('FORBIDDEN', 'members may delete only their own items')
    if (deleted) throw new CairnError('NOT_FOUND', `item ${id} was already deleted`)
    const r = this.write(row.gid, chain.current().kv, null, prev)
    this.ctx.audit.record('item-deleted', { groupId: row.gid, itemId: id })
    return { id, groupId: row.gid, deleted: true, updatedAt: r.updatedAt }
  }

  get (id: string): ItemView {
    const { row, rec } = this.head(id)
    requireRole(this.ctx, row.gid, 'read')
    if (rec.rec.b.del) throw new CairnError('NOT_FOUND', `item ${id} was deleted`)
    const view = this.toView(row.gid, rec, true)
    this.auditRead('item-read', { groupId: row.gid, itemId: id })
    return view
  }

  /** audit.reads: who was served what (IDs only). Inside the caller's read transaction when there is one. */
  private auditRead (kind: string, data: Record<string, unknown>): void {
    if (this.ctx.auditReads !== true) return
    this.ctx.audit.record(kind, { ...data, by: requireVault(this.ctx).entityId() })
  }

  list (gid: GroupId, q: { limit?: number, cursor?: string, type?: string }): { items: Array<ItemView | { id: string, error: { code: string, message: string } }>, nextCursor: string | null } {
    const { chain } = requireRole(this.ctx, gid, 'read')
    // A sealed circle answers 423 for the whole listing, not an error per item.
    if (chain.current().circle !== undefined) this.groups.keyFor(gid, chain.current().kv)
    const limit = q.limit ?? 50
    let after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined
    const items: Array<ItemView | { id: string, error: { code: string, message: string } }> = []
    let last: { clock: number, rid: string } | undefined
    outer: for (;;) {
      const rows = this.ctx.store.listKind(gid, 'item', Math.max(limit * 2, 50), after, true)
      if (rows.length === 0) { last = undefined; break }
      for (const row of rows) {
        after = { clock: row.clock, rid: row.rid }
        if (row.tomb === 1) continue
        try {
          const v = this.toView(gid, verifiedAtRest(row), false)
          if (q.type !== undefined && v.type !== q.type) continue
          items.push(v)
        } catch (e) {
          if (!isCairnError(e)) throw e
          items.push({ id: row.rid, error: { code: e.code, message: e.message } })
        }
        if (items.length >= limit) { last = after; break outer }
      }
    }
    const served = items.filter(i => !('error' in i)).map(i => i.id)
    this.auditRead('items-listed', { groupId: gid, count: served.length, items: served })
    return { items, nextCursor: last !== undefined ? encodeCursor(last) : null }
  }

  raw (gid: GroupId, q: { limit?: number, cursor?: string }): { items: RawItem[], nextCursor: string | null } {
    const chain = requireChain(this.ctx, gid)
    const v = this.ctx.vault
    if (v !== undefined) {
      if (!v.unlocked) throw new CairnError('VAULT_LOCKED', 'the vault is locked')
      if (roleIn(chain.current(), v.entityKey().publicKey) === undefined) throw new CairnError('NOT_FOUND', `no group ${gid} on this node`)
    }
    const limit = q.limit ?? 100
    const rows = this.ctx.store.listKind(gid, 'item', limit, q.cursor !== undefined ? decodeCursor(q.cursor) : undefined)
    const last = rows.length === limit ? rows[rows.length - 1] : undefined
    return { items: rows.map(rawOf), nextCursor: last !== undefined ? encodeCursor({ clock: last.clock, rid: last.rid }) : null }
  }

  /** Copy an item into another group: re-encrypted for the target, linked to its source by hash. */
  share (id: string, toGroup: GroupId): WriteResult {
    const { row, rec } = this.head(id)
    requireRole(this.ctx, row.gid, 'read')
    const { chain } = requireRole(this.ctx, toGroup, 'write')
    if (rec.rec.b.del) throw new CairnError('NOT_FOUND', `item ${id} was deleted`)
    if (toGroup === row.gid) throw new InvalidInputError('toGroup is the item\'s own group')
    const src = openItem(rec, this.groups.keyFor(row.gid, rec.rec.b.kv))
    const plain: ItemPlain = { type: src.type, content: src.content, meta: src.meta, createdAt: this.ctx.clock.peek(), src: { group: row.gid, item: id, hash: toHex(rec.hash) } }
    const res = this.write(toGroup, chain.current().kv, plain, undefined)
    this.ctx.audit.record('item-shared', { fromGroup: row.gid, itemId: id, toGroup, newItemId: res.id })
    return res
  }

  /** A new item with its plaintext as given, creation time included (imports). */
  writeImported (gid: GroupId, plain: ItemPlain): WriteResult {
    const { chain } = requireRole(this.ctx, gid, 'write')
    this.checkSize(plain)
    return this.write(gid, chain.current().kv, plain, undefined, { keepCreatedAt: true })
  }

  /** One stored item as an export sees it: decrypted, with provenance and its record hash. */
  exportView (row: RecordRow<GroupId>): ItemView & { hash: string } {
    const rec = verifiedAtRest(row)
    return { ...this.toView(row.gid, rec, true), hash: toHex(rec.hash) }
  }

  /**
   * The plaintext of a record this service sealed, while that record object
   * lives (the search index takes it instead of decrypting what was just
   * encrypted; the acceptor's `stored` event carries the same object).
   */
  sealedHere (r: DecodedRecord<ItemBody>): ItemPlain | undefined { return this.sealed.get(r) }

  /**
   * `batch`: a new item whose record may be signed with the rest of its group
   * commit batch (batch-signer.ts) and stored in the batch's second pass; its
   * write resolves only once that is done, and fails if it is refused then.
   */
  private write (gid: GroupId, kv: number, plain: ItemPlain | null, existing: Previous | undefined, opts: { amend?: Amend, keepCreatedAt?: boolean, batch?: boolean } = {}): WriteResult {
    const vault = requireVault(this.ctx)
    const key = this.groups.keyFor(gid, kv)
    const chain = requireChain(this.ctx, gid)
    // One transaction (one fsync) for the usage counter and the record.
    return this.ctx.store.tx(() => {
      const usage = this.ctx.store.bumpKeyUsage(gid, kv, plain === null ? 0 : 1)
      if (usage >= KEY_USAGE_LIMIT) throw new CairnError('KEY_EXHAUSTED', `key version ${kv} of this group has sealed ${usage} items; rotate the key (cairn rotate) before writing more`)
      const clock = this.ctx.clock.tick()
      if (plain !== null && existing === undefined && opts.keepCreatedAt !== true) plain.createdAt = clock
      // A new entry of an append-only group names the heads, read in this
      // transaction: entries written earlier in the same group commit count.
      const link = plain !== null && existing === undefined && chain.current().ao ? linkFor(this.ctx, chain, gid, vault.entityKey().publicKey, opts.amend) : undefined
      const signer = vault.entityKey()
      const u = sealItemUnsigned({
        signer, groupId: gid, clock, keyVersion: kv, key, plain,
        ...(existing !== undefined ? { existing } : {}), ...(link !== undefined ? { link } : {})
      })
      const store = (r: VerifiedRecord<ItemBody>): void => {
        if (plain !== null) this.sealed.set(r, plain)
        const [res] = this.ctx.acceptor.ingest([r], 'local')
        if (res?.status !== 'stored') throw new CairnError('CONCURRENT_CHANGE', `the write was not stored (${res?.reason ?? res?.status ?? ''}); retry`, { reason: res?.reason ?? res?.status })
      }
      const staged = opts.batch === true && link === undefined && existing === undefined && this.batchSigner?.stage(signer, u, store) === true
      if (!staged) store(signRecord(signer, u))
      if (usage === KEY_USAGE_ROTATE_AT) this.ctx.audit.record('key-usage-high', { groupId: gid, keyVersion: kv, count: usage })
      return {
        id: u.recordId, groupId: gid, author: entityIdFromPublicKey(u.body.a), keyVersion: kv,
        updatedAt: clockToIso(clock), contentHash: plain === null ? '' : contentHashOf(plain)
      }
    })
  }

  private plainFrom (inp: ItemInput, createdAt: number): ItemPlain {
    if (inp === null || typeof inp !== 'object') throw new InvalidInputError('body must be an object with content')
    if (inp.content === undefined) throw new InvalidInputError('content is required')
    const type = inp.type ?? 'note'
    if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE) throw new InvalidInputError(`type must be a string of 1 to ${MAX_TYPE} characters`)
    const meta = inp.meta ?? null
    if (meta !== null && (typeof meta !== 'object' || Array.isArray(meta))) throw new InvalidInputError('meta must be an object')
    const plain: ItemPlain = { type, content: inp.content, meta, createdAt }
    this.checkSize(plain)
    return plain
  }

  /** Bounded depth (util/bounds.ts) and the size limit, for a write and for an import alike. */
  private checkSize (plain: ItemPlain): void {
    assertBoundedStructure(plain, 'the item')
    const size = Buffer.byteLength(JSON.stringify(plain))
    if (size > this.ctx.limits.maxItemBytes) throw new CairnError('TOO_LARGE', `the item is ${size} bytes; the limit is ${this.ctx.limits.maxItemBytes} (limits.max_item_bytes)`)
  }

  /**
   * A damaged item can still be deleted (that is how a user clears it), as long
   * as its author and nonce still derive its ID: the tombstone needs nothing else.
   */
  private headForDelete (id: string): { row: RecordRow<GroupId>, prev: Previous, deleted: boolean } {
    try {
      const { row, rec } = this.head(id)
      return { row, prev: previousOf(rec), deleted: rec.rec.b.del }
    } catch (e) {
      if ((e as CairnError).code !== 'INTEGRITY') throw e
      const row = this.ctx.store.getHead(this.ctx.store.findRecord(id)!.gid, id)!
      let b: ItemBody
      try { b = salvageBody(row.bytes, 'item') } catch { throw e }
      if (itemIdFor(b.a, b.n) !== id) throw e
      return { row, prev: { author: b.a, nonce: b.n, prevHash: row.hash }, deleted: b.del }
    }
  }

  private head (id: string): { row: RecordRow<GroupId>, rec: DecodedRecord<ItemBody> } {
    if (!isRecordId(id)) throw new CairnError('NOT_FOUND', 'no such item (item IDs are UUIDs)')
    const meta = this.ctx.store.findRecord(id)
    const row = meta !== undefined && meta.kind === 'item' ? this.ctx.store.getHead(meta.gid, id) : undefined
    if (row === undefined) throw new CairnError('NOT_FOUND', `no item ${id} on this node`)
    return { row, rec: verifiedAtRest(row) }
  }

  private toView (gid: GroupId, rec: DecodedRecord<ItemBody>, withProvenance: boolean): ItemView {
    const plain = openItem(rec, this.groups.keyFor(gid, rec.rec.b.kv))
    const view: ItemView = {
      id: rec.recordId, groupId: gid, type: plain.type, content: plain.content, meta: plain.meta,
      author: entityIdFromPublicKey(rec.rec.b.a), createdAt: clockToIso(plain.createdAt), updatedAt: clockToIso(rec.rec.c),
      keyVersion: rec.rec.b.kv, contentHash: contentHashOf(plain),
      provenance: withProvenance ? this.provenance(gid, rec, plain) : []
    }
    const e = commitmentOf(rec)
    return e === undefined ? view : this.applyAmendments(gid, rec, e, view)
  }

  /** Reads apply corrections and redactions (items/append-only.ts): the entry keeps its place, its content may not. */
  private applyAmendments (gid: GroupId, rec: DecodedRecord<ItemBody>, e: Uint8Array, view: ItemView): ItemView {
    const chain = requireChain(this.ctx, gid)
    const out: ItemView = { ...view, entry: entryViewOf(this.ctx, gid, rec, e) }
    const res = amendmentsOf(this.ctx, chain, gid, e)
    if (res.redactedBy !== undefined) {
      return { ...out, content: null, meta: null, contentHash: '', redacted: amendmentBy(res.redactedBy, res.rows.get(res.redactedBy.recordId)!) }
    }
    const last = res.correctedBy.at(-1)
    if (last === undefined) return out
    const row = this.ctx.store.getHead(gid, last.recordId)
    if (row === undefined) return out
    const fix = openItem(verifiedAtRest(row), this.groups.keyFor(gid, row.kv))
    return {
      ...out, type: fix.type, content: fix.content, meta: fix.meta, contentHash: contentHashOf(fix),
      corrected: { ...amendmentBy(last, res.rows.get(last.recordId)!), original: { type: view.type, content: view.content, meta: view.meta } }
    }
  }

  private provenance (gid: GroupId, head: DecodedRecord<ItemBody>, plain: ItemPlain): ProvenanceEntry[] {
    const versions = [...this.ctx.store.history(gid, head.recordId).map(h => fromStore(h, 'item')), head]
    // An imported item's history starts where it was exported from.
    const out: ProvenanceEntry[] = (plain.imp?.prov ?? []).map(e => ({ ...e, action: e.action as ProvenanceEntry['action'], imported: true as const }))
    let prevClock: number | undefined
    for (const v of versions) {
      const b = v.rec.b
      const first = plain.imp !== undefined ? 'imported-from' : plain.src !== undefined ? 'shared-from' : 'created'
      const action: ProvenanceEntry['action'] = prevClock === undefined ? first : b.del ? 'deleted' : v.rec.c === prevClock ? 'reencrypted' : 'modified'
      out.push({
        action, by: v.signer, at: clockToIso(v.rec.c), hash: toHex(v.hash), signature: toB64(v.rec.x), keyVersion: b.kv,
        ...(action === 'shared-from' && plain.src !== undefined ? { source: { groupId: plain.src.group, itemId: plain.src.item, hash: plain.src.hash } } : {}),
        ...(action === 'imported-from' && plain.imp !== undefined ? { source: { groupId: plain.imp.group, itemId: plain.imp.item, hash: plain.imp.hash, author: plain.imp.author } } : {})
      })
      prevClock = v.rec.c
    }
    return out
  }
}

/**
 * Reads re-check what is at rest: the stored bytes must still carry a valid
 * signature, hash to the stored hash, and belong where they are stored. A
 * flipped byte anywhere (ciphertext, key version, tombstone flag, clock) is an
 * INTEGRITY error, never another item's key, a false "deleted", or garbage.
 */
function verifiedAtRest (row: RecordRow<GroupId>): DecodedRecord<ItemBody> {
  let r: DecodedRecord
  try {
    r = decodeRecord(row.bytes)
    if (r.rec.t !== 'item') throw new Error('not an item')
  } catch {
    throw new IntegrityError(`item ${row.rid} failed its integrity check at rest (its stored record was altered); restore it from a keeper with \`cairn group sync\``)
  }
  if (r.recordId !== row.rid || r.groupId !== row.gid || !equalBytes(r.hash, row.hash)) throw new IntegrityError(`item ${row.rid} failed its integrity check at rest (stored under the wrong ID or hash)`)
  return r as DecodedRecord<ItemBody>
}

export function rawOf (row: RecordRow<GroupId>): RawItem {
  // What is held, as it is held: a damaged record is listed too (reads refuse it).
  let ct: Uint8Array | undefined
  try { ct = salvageBody(row.bytes, 'item').ct } catch { ct = undefined }
  return {
    id: row.rid, kind: row.kind, keyVersion: row.kv, author: row.author !== null ? entityIdFromPublicKey(row.author) : null,
    signer: entityIdFromPublicKey(row.signer), updatedAt: clockToIso(row.clock), tombstone: row.tomb === 1, size: row.size, hash: toHex(row.hash),
    ciphertext: ct !== undefined ? toB64(ct) : ''
  }
}
