/**
 * The one way a record gets into the store, whatever its origin (local write,
 * gossipsub push, anti-entropy sync, descriptor delivery): `ingest(batch,
 * origin, opts)`, for one record or a thousand.
 *
 * Order of checks, per record: decode (records/record.ts: size, canonical CBOR,
 * signature, body shape by kind) → the batch's group, if the caller named one →
 * group held (a group new to this node is adopted only from its whole
 * descriptor chain, and only if adoptGroup says it is ours) → the kind's gate
 * (record-rules.ts → gates.ts) → last-writer-wins against the stored head. Then
 * one transaction stores every head that passed (and, on member nodes, the
 * versions they replace, for kinds that keep history); `stored` events go out
 * after it commits. Descriptors go first in a batch, in version order.
 *
 * Invariants: nothing unverified is stored (only bytes or VerifiedRecords come
 * in); a rejection is counted by reason (the `rejected` event) and never throws
 * to the caller; the HLC only advances on accepted records.
 */
import type { GroupId } from '../crypto/ids.js'
import { equalBytes } from '../crypto/bytes.js'
import type { HybridClock } from '../crypto/hlc.js'
import type { DescBody } from '../records/descriptor.js'
import { isNewer } from '../records/lww.js'
import { specOf } from '../records/kinds.js'
import { decodeFailure, decodeRecord, fromStore, hasKind, type Body, type DecodedRecord, type VerifiedRecord } from '../records/record.js'
import type { RecordMeta, RecordRow, Store } from '../store/store.js'
import type { TypedEmitter } from '../util/events.js'
import { DescriptorChain, type Descriptor } from './descriptor-chain.js'
import type { Quotas } from './quotas.js'
import { rulesOf } from './record-rules.js'
import { isBehind, type RejectReason } from './reject-reason.js'
import type { GroupRegistry } from './registry.js'

export type Origin = 'local' | 'push' | 'sync' | 'delivery'

export interface AcceptResult { status: 'stored' | 'duplicate' | 'stale' | 'rejected', reason?: RejectReason }

/**
 * One entry of a batch: untrusted bytes, a record verified in this process, or
 * a record refused before it got here (a signature a verifier worker rejected),
 * which is counted like any other rejection.
 */
export type Incoming = Uint8Array | VerifiedRecord | { refused: RejectReason }

export interface IngestOptions {
  /** The peer the batch came from (with every rejection it causes). */
  peer?: string
  /**
   * Every record must belong to this group (a sync session's, a gossip topic's):
   * one of another group is `malformed`, or `unknown-group` when this node does
   * not hold that group either (and never adopts it from this batch).
   */
  group?: string
  /**
   * Rejections meaning our view is behind (reject-reason.ts isBehind) are
   * returned but not counted: the caller retries them, and counts the retry.
   */
  deferBehind?: boolean
}

/** `reencrypted`: the same version under a newer key (same clock): content unchanged. */
export interface StoredEvent { record: VerifiedRecord, origin: Origin, replaced: boolean, previousHash?: Uint8Array, reencrypted?: boolean }

export interface AcceptorEvents extends Record<string, unknown> {
  stored: StoredEvent
  rejected: { reason: RejectReason, origin: Origin, peer?: string, groupId?: GroupId }
  /** `from`: the peer whose records brought the group (a delivery, a sync), when one did. */
  'group-added': { groupId: GroupId, from?: string }
  'descriptor': { groupId: GroupId, descriptor: Descriptor }
  /** Records removed without a replacement (tombstone expiry). */
  'removed': { groupId: GroupId, hashes: Uint8Array[] }
  /** A group ended on this node (deleted, or left): purged, its keys shredded (groups/membership.ts). */
  'group-ended': { groupId: GroupId, reason: 'deleted' | 'left' }
}

export interface AcceptorOptions {
  store: Store<GroupId>
  registry: GroupRegistry
  clock: HybridClock
  events: TypedEmitter<AcceptorEvents>
  /** Keepers keep no history: a superseded or deleted version is gone. */
  keepHistory: boolean
  maxSkewMs: number
  maxRecordBytes: number
  /** May this node adopt a group it does not hold yet, given its whole valid chain (groups/adoption.ts)? */
  adoptGroup: (head: DescBody, groupId: GroupId, chain: DescriptorChain, origin: Origin) => boolean
  /** A group this node deleted or left: its records are refused with this reason, and it is never adopted again. */
  ended?: (groupId: GroupId) => RejectReason | undefined
  /** Rate and budget of what peers may have stored (groups/quotas.ts); none = unlimited. */
  quotas?: Quotas
  now?: () => number
}

export class Acceptor {
  constructor (private readonly o: AcceptorOptions) {}

  ingest (batch: readonly Incoming[], origin: Origin, opts: IngestOptions = {}): AcceptResult[] {
    const out: AcceptResult[] = new Array(batch.length)
    const recs: Array<VerifiedRecord | undefined> = new Array(batch.length)
    // What each entry is, before any is judged: the place for a per-peer quota.
    batch.forEach((x, i) => {
      let r: VerifiedRecord
      if (x instanceof Uint8Array) {
        try { r = decodeRecord(x, this.o.maxRecordBytes) } catch (e) { out[i] = this.reject(decodeFailure(e), origin, opts); return }
      } else if ('refused' in x) { out[i] = this.reject(x.refused, origin, opts); return } else r = x
      if (opts.group !== undefined && r.groupId !== opts.group && (r.rec.t === 'desc' || this.o.registry.chain(r.groupId) !== undefined)) {
        out[i] = this.reject('malformed', origin, opts, r.groupId)
        return
      }
      recs[i] = r
    })
    this.adoptNewGroups(recs, out, origin, opts)
    const order: number[] = []
    recs.forEach((r, i) => { if (r !== undefined) order.push(i) })
    if (order.length === 0) return out
    if (order.length > 1) order.sort((a, b) => orderOf(recs[a]!) - orderOf(recs[b]!))
    this.o.store.atomic(() => {
      const heads = order.length >= PREFETCH_FROM ? this.prefetchHeads(order.map(i => recs[i]!)) : undefined
      for (const i of order) out[i] = this.acceptOne(recs[i]!, origin, opts, heads)
    })
    return out
  }

  /**
   * The stored heads of a batch's records, read in one statement per group
   * (a lookup per record was ~8% of a catch-up keeper's time), without their
   * bytes. Valid inside the transaction that reads them until a record of that
   * ID is judged: the batch may hold two versions of one record, so a later
   * one reads the store.
   */
  private prefetchHeads (rs: VerifiedRecord[]): Heads {
    const byGroup = new Map<GroupId, string[]>()
    for (const r of rs) {
      if (r.rec.t === 'desc') continue
      const list = byGroup.get(r.groupId)
      if (list === undefined) byGroup.set(r.groupId, [r.recordId])
      else list.push(r.recordId)
    }
    const rows = new Map<GroupId, Map<string, RecordMeta<GroupId>>>()
    for (const [gid, rids] of byGroup) rows.set(gid, this.o.store.getHeadsMeta(gid, rids))
    return { rows, judged: new Set() }
  }

  private headOf (r: VerifiedRecord, heads: Heads | undefined): RecordRow<GroupId> | undefined {
    const known = heads?.rows.get(r.groupId)
    if (known === undefined || heads!.judged.has(r.recordId)) return this.o.store.getHead(r.groupId, r.recordId)
    heads!.judged.add(r.recordId)
    const m = known.get(r.recordId)
    if (m === undefined) return undefined
    // The same hash is the same bytes: a repeat (a second session's copy) needs
    // no read of them. Another version's are read only if a gate asks (an
    // append-only group's): its history row is copied inside SQLite (merge).
    if (equalBytes(m.hash, r.hash)) return { ...m, bytes: bufferView(r.bytes) }
    return lazyBytes(m, () => this.o.store.getHead(r.groupId, r.recordId)?.bytes)
  }

  private acceptOne (r: VerifiedRecord, origin: Origin, opts: IngestOptions, heads?: Heads): AcceptResult {
    const chain = this.o.registry.chain(r.groupId)
    if (chain === undefined) return this.reject(this.o.ended?.(r.groupId) ?? 'unknown-group', origin, opts, r.groupId)
    const head = r.rec.t === 'desc' ? undefined : this.headOf(r, heads)
    const verdict = rulesOf(r.rec.t).gate(r, { chain, now: this.now(), maxSkewMs: this.o.maxSkewMs, ...(head !== undefined ? { head } : {}), record: rid => this.stored(r.groupId, rid) })
    if (verdict === 'duplicate') return { status: 'duplicate' }
    if (verdict !== undefined) return this.reject(verdict, origin, opts, r.groupId)
    // A descriptor extends the chain the gates judge everything else by.
    if (hasKind(r, 'desc')) return this.extendChain(chain, r, origin)
    return this.merge(r, head, origin, opts)
  }

  /** Groups new to this node: each is adopted from the descriptors of it in the batch, or not at all. */
  private adoptNewGroups (recs: Array<VerifiedRecord | undefined>, out: AcceptResult[], origin: Origin, opts: IngestOptions): void {
    let byGroup: Map<GroupId, number[]> | undefined
    recs.forEach((r, i) => {
      if (r?.rec.t !== 'desc' || this.o.registry.chain(r.groupId) !== undefined) return
      byGroup ??= new Map()
      const list = byGroup.get(r.groupId) ?? []
      list.push(i)
      byGroup.set(r.groupId, list)
    })
    for (const [gid, idx] of byGroup ?? []) {
      const res = this.adopt(gid, idx.map(i => recs[i] as VerifiedRecord<DescBody>), origin, opts)
      for (const i of idx) { out[i] = res; recs[i] = undefined }
    }
  }

  /** A stored record of a group, read back (gates that judge one record by another). */
  private stored (gid: GroupId, rid: string): DecodedRecord | undefined {
    const row = this.o.store.getHead(gid, rid)
    if (row === undefined) return undefined
    try { return fromStore(row) } catch { return undefined }
  }

  private adopt (gid: GroupId, descs: Array<VerifiedRecord<DescBody>>, origin: Origin, opts: IngestOptions): AcceptResult {
    const ended = this.o.ended?.(gid)
    if (ended !== undefined) return this.reject(ended, origin, opts, gid)
    const chain = new DescriptorChain()
    for (const d of [...descs].sort((a, b) => a.rec.b.ver - b.rec.b.ver)) {
      const why = chain.rejectNext(d)
      if (why === 'duplicate') continue
      if (why !== undefined) return this.reject(why, origin, opts, gid)
      chain.append(d)
    }
    if (!this.o.adoptGroup(chain.current(), gid, chain, origin)) return this.reject('not-for-us', origin, opts, gid)
    const added = chain.all() as Array<VerifiedRecord<DescBody>>
    this.o.store.tx(() => {
      for (const d of added) this.o.store.putHead(this.row(d, 0))
      this.o.store.upsertGroup({ gid, desc_ver: chain.current().ver, joined: Date.now(), state: 'active' })
    })
    this.o.registry.set(gid, chain)
    for (const d of added) this.o.clock.observe(d.rec.c)
    this.o.store.afterCommit(() => {
      this.o.events.emit('group-added', { groupId: gid, ...(opts.peer !== undefined ? { from: opts.peer } : {}) })
      for (const d of added) this.o.events.emit('stored', { record: d, origin, replaced: false })
      this.o.events.emit('descriptor', { groupId: gid, descriptor: chain.head() })
    })
    return { status: 'stored' }
  }

  private extendChain (chain: DescriptorChain, d: VerifiedRecord<DescBody>, origin: Origin): AcceptResult {
    const store = this.o.store
    store.atomic(() => {
      store.putHead(this.row(d, 0))
      store.upsertGroup({ gid: d.groupId, desc_ver: d.rec.b.ver, joined: store.getGroup(d.groupId)?.joined ?? Date.now(), state: 'active' })
    })
    chain.append(d)
    this.o.clock.observe(d.rec.c)
    store.afterCommit(() => {
      this.o.events.emit('stored', { record: d, origin, replaced: false })
      this.o.events.emit('descriptor', { groupId: d.groupId, descriptor: d })
    })
    return { status: 'stored' }
  }

  private merge (r: VerifiedRecord, head: RecordRow<GroupId> | undefined, origin: Origin, opts: IngestOptions): AcceptResult {
    const store = this.o.store
    const spec = specOf(r.rec.t)
    const kv = spec.keyVersion(r.rec.b)
    if (head !== undefined) {
      if (equalBytes(head.hash, r.hash)) return { status: 'duplicate' }
      if (!isNewer({ clock: r.rec.c, kv, hash: r.hash }, { clock: head.clock, kv: head.kv, hash: head.hash })) {
        if (origin !== 'local') this.reject('replay', origin, opts, r.groupId)
        return { status: 'stale', reason: 'replay' }
      }
    }
    const q = this.o.quotas
    if (q !== undefined) {
      if (origin === 'local') q.charge(r.bytes.length - (head?.size ?? 0))
      else {
        const over = q.admit(r.groupId, opts.peer, r.bytes.length, head?.size ?? 0)
        if (over !== undefined) return this.reject(over, origin, opts, r.groupId)
      }
    }
    store.atomic(() => {
      if (head !== undefined && rulesOf(r.rec.t).history) {
        // Member nodes keep superseded versions (re-encryptions included: the
        // author-signed original is the provenance); keepers and deletes keep none.
        if (spec.tombstone(r.rec.b) || !this.o.keepHistory) store.purgeHistory(r.groupId, r.recordId)
        else store.headToHistory(head.gid, head.rid)
      }
      store.putHead(this.row(r, kv))
      rulesOf(r.rec.t).index?.(r, store)
    })
    this.o.clock.observe(r.rec.c)
    const ev: StoredEvent = { record: r, origin, replaced: head !== undefined, ...(head !== undefined ? { previousHash: new Uint8Array(head.hash), reencrypted: head.clock === r.rec.c && head.kv < kv } : {}) }
    store.afterCommit(() => this.o.events.emit('stored', ev))
    return { status: 'stored' }
  }

  private row (r: VerifiedRecord, kv: number): RecordRow<GroupId> {
    const spec = specOf(r.rec.t)
    const b = r.rec.b
    const author = spec.author(b)
    return {
      gid: r.groupId,
      rid: r.recordId,
      kind: r.rec.t,
      clock: r.rec.c,
      kv,
      signer: bufferView(r.rec.s),
      author: author !== null ? bufferView(author) : null,
      tomb: spec.tombstone(b) ? 1 : 0,
      hash: bufferView(r.hash),
      bytes: bufferView(r.bytes),
      size: r.bytes.length,
      received: this.now()
    }
  }

  private reject (reason: RejectReason, origin: Origin, opts: IngestOptions, groupId?: GroupId): AcceptResult {
    if (opts.deferBehind !== true || !isBehind(reason)) this.o.events.emit('rejected', { reason, origin, peer: opts.peer, groupId })
    return { status: 'rejected', reason }
  }

  private now (): number { return (this.o.now ?? Date.now)() }
}

const orderOf = (r: VerifiedRecord<Body>): number => rulesOf(r.rec.t).order(r.rec.b)

/** Batches from this size read their heads in one statement (acceptor's prefetchHeads). */
const PREFETCH_FROM = 8

/** A batch's prefetched heads by group and rid, and the rids judged since (whose prefetched head may be stale). */
interface Heads { rows: Map<GroupId, Map<string, RecordMeta<GroupId>>>, judged: Set<string> }

/**
 * A head whose bytes are read from the store on first use, which must come
 * before the head is replaced (gates run before merge); none is read after.
 */
function lazyBytes (m: RecordMeta<GroupId>, read: () => Buffer | undefined): RecordRow<GroupId> {
  let bytes: Buffer | undefined
  return Object.defineProperty({ ...m }, 'bytes', {
    enumerable: true,
    get: () => (bytes ??= read() ?? Buffer.alloc(0))
  }) as RecordRow<GroupId>
}

/** The row is bound and copied by SQLite at once: a view of the record's bytes, not a copy per column. */
const bufferView = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)
