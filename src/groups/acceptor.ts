/**
 * The one way a record gets into the store, whatever its origin (local write,
 * gossipsub push, anti-entropy sync, descriptor delivery, recovery).
 *
 * Order of checks: size → canonical decode → signature → body shape → group known
 * → gates (groups/gates.ts) → last-writer-wins against the stored head. Then one
 * transaction stores the head (and, on member nodes, the superseded version for
 * provenance), and a `stored` event goes out after commit.
 *
 * Invariants: nothing unverified is stored; a rejection is counted by reason and
 * never throws to the caller; the HLC only advances on accepted records.
 */
import { equalBytes } from '../crypto/bytes.js'
import type { HybridClock } from '../crypto/hlc.js'
import { checkBody, recordKeyVersion } from '../records/index.js'
import { checkDescBody, type DescBody } from '../records/descriptor.js'
import type { ItemBody } from '../records/item.js'
import { isNewer } from '../records/lww.js'
import { decodeRecord, type VerifiedRecord } from '../records/record.js'
import type { RecordRow, Store } from '../store/store.js'
import { IntegrityError } from '../util/errors.js'
import type { TypedEmitter } from '../util/events.js'
import { DescriptorChain, type Descriptor } from './descriptor-chain.js'
import { gateRecord, type RejectReason } from './gates.js'
import type { Quotas } from './quotas.js'
import type { GroupRegistry } from './registry.js'

export type Origin = 'local' | 'push' | 'sync' | 'delivery' | 'recovery'

export interface AcceptResult { status: 'stored' | 'duplicate' | 'stale' | 'rejected', reason?: RejectReason }

/** `reencrypted`: the same version under a newer key (same clock): content unchanged. */
export interface StoredEvent { record: VerifiedRecord, origin: Origin, replaced: boolean, previousHash?: Uint8Array, reencrypted?: boolean }

export interface AcceptorEvents extends Record<string, unknown> {
  stored: StoredEvent
  rejected: { reason: RejectReason, origin: Origin, peer?: string, groupId?: string }
  'group-added': { groupId: string }
  'descriptor': { groupId: string, descriptor: Descriptor }
  /** Records removed without a replacement (tombstone expiry, group dropped). */
  'removed': { groupId: string, hashes: Uint8Array[] | 'all' }
}

export interface AcceptorOptions {
  store: Store
  registry: GroupRegistry
  clock: HybridClock
  events: TypedEmitter<AcceptorEvents>
  /** Keepers keep no history: a superseded or deleted version is gone. */
  keepHistory: boolean
  maxSkewMs: number
  maxRecordBytes: number
  /** May this node adopt a group it does not hold yet, given the descriptor chain's head? */
  adoptGroup: (head: DescBody, groupId: string) => boolean
  /** Rate and budget of what peers may have stored (groups/quotas.ts); none = unlimited. */
  quotas?: Quotas
  now?: () => number
}

export class Acceptor {
  constructor (private readonly o: AcceptorOptions) {}

  /** Decode untrusted bytes and accept them. */
  acceptBytes (bytes: Uint8Array, origin: Origin, peer?: string): AcceptResult {
    let r: VerifiedRecord
    try {
      r = decodeRecord(bytes, this.o.maxRecordBytes)
      checkBody(r)
    } catch (e) {
      const reason = (e instanceof IntegrityError ? e.details?.reason : undefined) as RejectReason | undefined
      return this.reject(reason ?? 'malformed', origin, peer)
    }
    return this.accept(r, origin, peer)
  }

  /** Accept many (a sync batch): descriptors first in version order, one transaction. */
  acceptMany (bytesList: Uint8Array[], origin: Origin, peer?: string): AcceptResult[] {
    const decoded: Array<VerifiedRecord | AcceptResult> = bytesList.map(b => {
      try {
        const r = decodeRecord(b, this.o.maxRecordBytes)
        checkBody(r)
        return r
      } catch (e) {
        const reason = (e instanceof IntegrityError ? e.details?.reason : undefined) as RejectReason | undefined
        return this.reject(reason ?? 'malformed', origin, peer)
      }
    })
    return this.acceptVerifiedMany(decoded, origin, peer)
  }

  /** Batch of records whose signatures and shapes were already checked (or earlier results to pass through). */
  acceptVerifiedMany (items: Array<VerifiedRecord | AcceptResult>, origin: Origin, peer?: string, quiet?: ReadonlySet<RejectReason>): AcceptResult[] {
    this.quiet = quiet
    try { return this.acceptBatch(items, origin, peer) } finally { this.quiet = undefined }
  }

  /** Rejections for these reasons are returned but not counted (the caller retries and counts). */
  private quiet: ReadonlySet<RejectReason> | undefined

  private acceptBatch (items: Array<VerifiedRecord | AcceptResult>, origin: Origin, peer?: string): AcceptResult[] {
    const order = items.map((_, i) => i).sort((a, b) => rank(items[a]!) - rank(items[b]!))
    const out: AcceptResult[] = new Array(items.length)
    const newGroups = this.adoptNewGroups(items.filter(isRecord), origin, peer)
    this.o.store.tx(() => {
      for (const i of order) {
        const d = items[i]!
        if (!isRecord(d)) { out[i] = d; continue }
        out[i] = newGroups.get(d) ?? this.accept(d, origin, peer)
      }
    })
    return out
  }

  /** Count a record refused before it reached the acceptor (failed signature in a worker). */
  rejectUnverified (reason: RejectReason, origin: Origin, peer?: string): AcceptResult {
    return this.reject(reason, origin, peer)
  }

  /**
   * Accept one verified record. Descriptors for a group this node does not hold
   * must come as a whole chain: see acceptChain.
   */
  accept (r: VerifiedRecord, origin: Origin, peer?: string): AcceptResult {
    const chain = this.o.registry.chain(r.groupId)
    if (chain === undefined) {
      if (r.rec.t === 'desc' && (r.rec.b as DescBody).ver === 1) return this.acceptChain([r as Descriptor], origin, peer)
      return this.reject('unknown-group', origin, peer, r.groupId)
    }
    if (r.rec.t === 'desc') return this.acceptDescriptor(chain, r as Descriptor, origin, peer)
    const why = gateRecord(r, { chain, now: this.now(), maxSkewMs: this.o.maxSkewMs })
    if (why !== undefined) return this.reject(why, origin, peer, r.groupId)
    return this.merge(r, origin, peer, chain.current().ao)
  }

  /** Adopt a new group from its full descriptor chain (delivery or first sync). */
  acceptChain (descs: Descriptor[], origin: Origin, peer?: string): AcceptResult {
    if (descs.length === 0) return { status: 'rejected', reason: 'malformed' }
    const gid = descs[0]!.groupId
    const existing = this.o.registry.chain(gid)
    if (existing !== undefined) {
      let last: AcceptResult = { status: 'duplicate' }
      for (const d of [...descs].sort((a, b) => a.rec.b.ver - b.rec.b.ver)) last = this.accept(d, origin, peer)
      return last
    }
    const chain = new DescriptorChain()
    for (const d of [...descs].sort((a, b) => a.rec.b.ver - b.rec.b.ver)) {
      if (d.groupId !== gid) return this.reject('malformed', origin, peer, gid)
      try { checkDescBody(d.rec.b) } catch { return this.reject('malformed', origin, peer, gid) }
      const why = chain.rejectNext(d)
      if (why === 'duplicate') continue
      if (why !== undefined) return this.reject(why as RejectReason, origin, peer, gid)
      chain.append(d)
    }
    if (!this.o.adoptGroup(chain.current(), gid)) return this.reject('not-for-us', origin, peer, gid)
    this.o.store.tx(() => {
      for (const d of chain.all()) this.o.store.putHead(this.row(d, undefined))
      this.o.store.upsertGroup({ gid, desc_ver: chain.current().ver, joined: Date.now(), state: 'active' })
    })
    this.o.registry.set(gid, chain)
    for (const d of chain.all()) this.o.clock.observe(d.rec.c)
    this.o.store.afterCommit(() => {
      this.o.events.emit('group-added', { groupId: gid })
      for (const d of chain.all()) this.o.events.emit('stored', { record: d, origin, replaced: false })
      this.o.events.emit('descriptor', { groupId: gid, descriptor: chain.head() })
    })
    return { status: 'stored' }
  }

  private acceptDescriptor (chain: DescriptorChain, d: Descriptor, origin: Origin, peer?: string): AcceptResult {
    const why = chain.rejectNext(d)
    if (why === 'duplicate') return { status: 'duplicate' }
    if (why !== undefined) return this.reject(why as RejectReason, origin, peer, d.groupId)
    this.o.store.tx(() => {
      this.o.store.putHead(this.row(d, undefined))
      this.o.store.upsertGroup({ gid: d.groupId, desc_ver: d.rec.b.ver, joined: this.o.store.getGroup(d.groupId)?.joined ?? Date.now(), state: 'active' })
    })
    chain.append(d)
    this.o.clock.observe(d.rec.c)
    this.o.store.afterCommit(() => {
      this.o.events.emit('stored', { record: d, origin, replaced: false })
      this.o.events.emit('descriptor', { groupId: d.groupId, descriptor: d })
    })
    return { status: 'stored' }
  }

  private merge (r: VerifiedRecord, origin: Origin, peer: string | undefined, appendOnly: boolean): AcceptResult {
    const store = this.o.store
    const head = store.getHead(r.groupId, r.recordId)
    const kv = recordKeyVersion(r)
    if (head !== undefined) {
      if (equalBytes(head.hash, r.hash)) return { status: 'duplicate' }
      if (appendOnly && r.rec.t === 'item') return this.reject('append-only', origin, peer, r.groupId)
      if (!isNewer({ clock: r.rec.c, kv, hash: r.hash }, { clock: head.clock, kv: head.kv, hash: head.hash })) {
        if (origin !== 'local') this.reject('replay', origin, peer, r.groupId)
        return { status: 'stale', reason: 'replay' }
      }
    }
    const q = this.o.quotas
    if (q !== undefined) {
      if (origin === 'local' || origin === 'recovery') q.charge(r.bytes.length - (head?.size ?? 0))
      else {
        const over = q.admit(r.groupId, peer, r.bytes.length, head?.size ?? 0)
        if (over !== undefined) return this.reject(over, origin, peer, r.groupId)
      }
    }
    const tomb = r.rec.t === 'item' && (r.rec.b as ItemBody).del
    store.atomic(() => {
      if (head !== undefined && r.rec.t === 'item') {
        // Member nodes keep superseded versions (re-encryptions included: the
        // author-signed original is the provenance); keepers and deletes keep none.
        if (tomb || !this.o.keepHistory) store.purgeHistory(r.groupId, r.recordId)
        else store.pushHistory(head.gid, head.rid, head.clock, head.hash, head.bytes)
      }
      store.putHead(this.row(r, kv))
    })
    this.o.clock.observe(r.rec.c)
    const ev: StoredEvent = { record: r, origin, replaced: head !== undefined, ...(head !== undefined ? { previousHash: new Uint8Array(head.hash), reencrypted: head.clock === r.rec.c && head.kv < kv } : {}) }
    this.o.store.afterCommit(() => this.o.events.emit('stored', ev))
    return { status: 'stored' }
  }

  private row (r: VerifiedRecord, kv: number | undefined): RecordRow {
    const isItem = r.rec.t === 'item'
    const b = r.rec.b
    return {
      gid: r.groupId,
      rid: r.recordId,
      kind: r.rec.t,
      clock: r.rec.c,
      kv: kv ?? recordKeyVersion(r),
      signer: Buffer.from(r.rec.s),
      author: isItem ? Buffer.from(b.a as Uint8Array) : null,
      tomb: isItem && b.del === true ? 1 : 0,
      hash: Buffer.from(r.hash),
      bytes: Buffer.from(r.bytes),
      size: r.bytes.length,
      received: this.now()
    }
  }

  private adoptNewGroups (recs: VerifiedRecord[], origin: Origin, peer?: string): Map<VerifiedRecord, AcceptResult> {
    const out = new Map<VerifiedRecord, AcceptResult>()
    const byGroup = new Map<string, Descriptor[]>()
    for (const r of recs) {
      if (r.rec.t !== 'desc' || this.o.registry.chain(r.groupId) !== undefined) continue
      const list = byGroup.get(r.groupId) ?? []
      list.push(r as Descriptor)
      byGroup.set(r.groupId, list)
    }
    for (const descs of byGroup.values()) {
      const res = this.acceptChain(descs, origin, peer)
      for (const d of descs) out.set(d, res)
    }
    return out
  }

  private reject (reason: RejectReason, origin: Origin, peer?: string, groupId?: string): AcceptResult {
    if (this.quiet?.has(reason) !== true) this.o.events.emit('rejected', { reason, origin, peer, groupId })
    return { status: 'rejected', reason }
  }

  private now (): number { return (this.o.now ?? Date.now)() }
}

const isRecord = (x: VerifiedRecord | AcceptResult): x is VerifiedRecord => 'rec' in x
const rank = (x: VerifiedRecord | AcceptResult): number =>
  !isRecord(x) ? 0 : x.rec.t === 'desc' ? (x.rec.b as DescBody).ver : 1_000_000_000
