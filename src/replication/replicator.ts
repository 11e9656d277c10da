/**
 * Replication orchestration: which peers share which group, when to sync, what
 * to push, and what to deliver. Protocol services (hello, sync, push, deliver,
 * recover) know nothing of each other; this class connects them to the
 * Acceptor's events.
 *
 * - Group peers: the group's keepers (descriptor) plus nodes bound (hello or
 *   `bind` records) to its members; never this node.
 * - Push: records written here are published on the group topic (chatty only),
 *   through a bounded queue; overflow is left to anti-entropy.
 * - Anti-entropy: when a group peer says hello (the lower peer ID initiates),
 *   every `chatty_interval`/`taciturn_interval` per group, and on demand.
 * - Delivery: a new keeper or member gets the descriptor chain (and its key
 *   envelopes) from the outbox, retried with backoff until it lands; then we sync.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes, toHex } from '../crypto/bytes.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import type { HybridClock } from '../crypto/hlc.js'
import type { AcceptorEvents, Acceptor } from '../groups/acceptor.js'
import { roleIn } from '../groups/descriptor-chain.js'
import type { GroupRegistry } from '../groups/registry.js'
import { onStored } from '../groups/record-rules.js'
import { signBinding, type BindBody } from '../records/binding.js'
import { fromStore, type DecodedRecord, type VerifiedRecord } from '../records/record.js'
import type { Store } from '../store/store.js'
import { CairnError } from '../util/errors.js'
import type { TypedEmitter } from '../util/events.js'
import type { Logger } from '../util/logger.js'
import type { Vault } from '../vault/vault.js'
import type { Metrics } from '../util/metrics.js'
import { DeliverService } from './deliver.js'
import { Outbox } from './outbox.js'
import { HelloService, signBindingStatement, type Binding, type PeerInfo } from './hello.js'
import { IndexCache } from './index-cache.js'
import { Dialer } from './dialer.js'
import type { CairnLibp2p } from './libp2p-node.js'
import { PushService } from './push.js'
import { RecoverService } from './recover-protocol.js'
import { SyncService, type SyncReport } from './sync-protocol.js'
import { Verifier } from './verifier.js'

export interface ReplicatorOptions {
  libp2p: CairnLibp2p
  store: Store<GroupId>
  registry: GroupRegistry
  acceptor: Acceptor
  events: TypedEmitter<AcceptorEvents>
  vault: Vault | undefined
  clock: HybridClock
  metrics: Metrics
  log: Logger
  keeper: boolean
  audit: (kind: string, data: Record<string, unknown>) => void
  decoySecret: Uint8Array
  chattyIntervalMs: number
  taciturnIntervalMs: number
  requestTimeoutMs: number
  maxRecordBytes: number
}

const TICK_MS = 1000

export class Replicator {
  readonly hello: HelloService
  readonly sync: SyncService
  readonly push: PushService
  readonly deliver: DeliverService
  readonly recover: RecoverService
  readonly outbox: Outbox
  readonly indexes: IndexCache
  readonly dialer: Dialer
  readonly verifier = new Verifier()
  private readonly running = new Map<string, Promise<SyncReport>>()
  private readonly nextSync = new Map<string, number>()
  private readonly lastSession = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private readonly offs: Array<() => void> = []
  private stopped = false
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly o: ReplicatorOptions) {
    this.indexes = new IndexCache(o.store)
    const timeoutMs = o.requestTimeoutMs
    this.dialer = new Dialer(o.libp2p, timeoutMs, peer => this.hello.info(peer))
    this.hello = new HelloService({
      libp2p: o.libp2p, keeper: o.keeper, binding: () => this.binding(),
      onPeer: info => { this.onPeer(info) },
      onBad: peer => { o.metrics.rejected.inc({ reason: 'bad-hello', origin: 'hello' }); o.log.debug({ peer }, 'bad hello') }
    })
    this.sync = new SyncService({
      libp2p: o.libp2p, store: o.store, acceptor: o.acceptor, indexes: this.indexes, verifier: this.verifier,
      authorize: (peer, gid) => this.authorized(peer, gid),
      holds: gid => o.registry.has(gid),
      timeoutMs, maxMessageBytes: Math.max(o.maxRecordBytes * 2, 4 * 1024 * 1024), maxRecordBytes: o.maxRecordBytes, log: o.log,
      onSession: (r, role) => {
        if (r.groupId !== undefined && r.error === undefined) this.lastSession.set(`${r.peerId}/${r.groupId}`, Date.now())
        o.metrics.syncRounds.inc({ role, result: r.error === undefined ? 'ok' : 'error' })
        o.metrics.syncBytes.inc({ direction: 'total' }, r.bytes)
        o.metrics.syncRoundTrips.inc(r.roundTrips)
        o.metrics.received.inc({ path: 'sync' }, r.received)
      }
    })
    this.push = new PushService({ libp2p: o.libp2p, acceptor: o.acceptor, log: o.log, relaxed: fn => o.store.relaxed(fn), onPublished: () => o.metrics.pushed.inc(), onReceived: () => o.metrics.received.inc({ path: 'push' }) })
    this.deliver = new DeliverService({ libp2p: o.libp2p, acceptor: o.acceptor, timeoutMs, log: o.log })
    this.outbox = new Outbox({
      store: o.store, deliver: this.deliver, ensureConnected: async (p, h) => { await this.dialer.ensureConnected(p, h) }, nodesOf: pub => this.nodesOf(pub),
      stopped: () => this.stopped,
      onDelivered: (gid, peer) => { o.audit('descriptor-delivered', { groupId: gid, to: peer }); void this.syncPeer(peer, gid) }
    })
    this.recover = new RecoverService({ libp2p: o.libp2p, store: o.store, decoySecret: o.decoySecret, timeoutMs, log: o.log, audit: o.audit })
  }

  get peerId (): string { return this.o.libp2p.peerId.toString() }

  async start (): Promise<void> {
    const o = this.o
    await this.hello.start()
    await this.sync.start()
    await this.deliver.start()
    await this.recover.start()
    this.push.start()
    for (const gid of o.registry.groupIds()) this.track(gid)
    this.offs.push(o.events.on('stored', ({ record, origin, previousHash, reencrypted }) => {
      this.indexes.added(record.groupId, record.hash, previousHash)
      // A rotation re-encrypts a whole group: anti-entropy moves that in bulk
      // (one session per peer) instead of thousands of gossip messages.
      if (origin === 'local' && reencrypted === true) this.syncSoon(record.groupId, 1000)
      else if (origin === 'local') this.enqueuePublish(record)
    }))
    this.offs.push(onStored(o.events, 'node-binding', ({ record }) => { this.onBindRecord(record as VerifiedRecord<BindBody>) }))
    this.offs.push(o.events.on('removed', ({ groupId, hashes }) => this.indexes.removed(groupId, hashes)))
    this.offs.push(o.events.on('group-added', ({ groupId }) => { this.track(groupId); this.publishBinding(groupId); this.syncSoon(groupId, 0) }))
    this.offs.push(o.events.on('descriptor', ({ groupId, descriptor }) => { this.onDescriptor(groupId, descriptor.rec.b.k, descriptor.rec.b.m) }))
    o.libp2p.addEventListener('peer:connect', () => o.metrics.peers.set(o.libp2p.getPeers().length))
    o.libp2p.addEventListener('peer:disconnect', () => o.metrics.peers.set(o.libp2p.getPeers().length))
    this.timer = setInterval(() => { void this.tick() }, TICK_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const f of this.offs) f()
    this.push.stop()
    await Promise.allSettled([...this.running.values()])
    await Promise.allSettled([this.hello.stop(), this.sync.stop(), this.deliver.stop(), this.recover.stop()])
    await this.verifier.close()
  }

  /** After unlock: sign a fresh binding, announce it, and put bind records into our groups. */
  async unlocked (): Promise<void> {
    const v = this.o.vault
    if (v === undefined || !v.unlocked) return
    const b = signBindingStatement(v.entityKey(), this.peerId)
    this.o.store.putMeta('binding', JSON.stringify({ e: toHex(b.e), a: b.a, s: toHex(b.s) }))
    this.cachedBinding = b
    for (const gid of this.o.registry.groupIds()) this.publishBinding(gid)
    await this.hello.announce()
  }

  private cachedBinding: Binding | undefined
  private binding (): Binding | undefined {
    if (this.cachedBinding !== undefined) return this.cachedBinding
    const raw = this.o.store.getMeta('binding')
    if (raw === undefined) return undefined
    try {
      const j = JSON.parse(raw) as { e: string, a: number, s: string }
      this.cachedBinding = { e: new Uint8Array(Buffer.from(j.e, 'hex')), a: j.a, s: new Uint8Array(Buffer.from(j.s, 'hex')) }
    } catch { return undefined }
    return this.cachedBinding
  }

  // ---- group peers and authorisation ----

  /** Peer IDs that may hold this group: its keepers and nodes bound to its members. */
  groupPeers (gid: GroupId): string[] {
    const chain = this.o.registry.chain(gid)
    if (chain === undefined) return []
    const d = chain.current()
    const out = new Set<string>(d.k)
    for (const info of this.hello.all()) if (info.entity !== undefined && roleIn(d, info.entity) !== undefined) out.add(info.peerId)
    for (const row of this.o.store.allOfKind(gid, 'bind')) {
      const r = fromStore(row, 'bind')
      if (roleIn(d, r.rec.s) !== undefined) out.add(r.rec.b.peer)
    }
    out.delete(this.peerId)
    return [...out]
  }

  authorized (peer: string, gid: GroupId): boolean {
    const chain = this.o.registry.chain(gid)
    if (chain === undefined) return false
    const d = chain.current()
    if (d.k.includes(peer)) return true
    const info = this.hello.info(peer)
    return info?.entity !== undefined && roleIn(d, info.entity) !== undefined
  }

  // ---- events ----

  private track (gid: GroupId): void {
    const d = this.o.registry.chain(gid)?.current()
    if (d === undefined) return
    if (d.cul === 'chatty') this.push.subscribe(gid)
    if (!this.nextSync.has(gid)) this.nextSync.set(gid, Date.now() + this.intervalOf(gid) * Math.random())
  }

  private intervalOf (gid: GroupId): number {
    return this.o.registry.chain(gid)?.current().cul === 'taciturn' ? this.o.taciturnIntervalMs : this.o.chattyIntervalMs
  }

  private onPeer (info: PeerInfo): void {
    this.outbox.wake(`peer:${info.peerId}`)
    if (info.entityId !== undefined) this.outbox.wake(`entity:${info.entityId}`)
    void this.outbox.process()
    // Both sides sync on connect; the higher peer ID waits a moment and skips
    // what the lower one just did, so one session per group usually suffices.
    const delay = this.peerId < info.peerId ? 0 : 1500
    const t = setTimeout(() => {
      this.timers.delete(t)
      if (this.stopped) return
      for (const gid of this.wantedGroups()) {
        if (!this.o.registry.has(gid) || this.authorized(info.peerId, gid) || this.groupPeers(gid).includes(info.peerId)) {
          if (Date.now() - (this.lastSession.get(`${info.peerId}/${gid}`) ?? 0) > 3000) void this.syncPeer(info.peerId, gid)
        }
      }
    }, delay)
    t.unref()
    this.timers.add(t)
  }

  /** Groups held here, plus groups the vault has keys for but whose records have not arrived (recovery, new device). */
  wantedGroups (): GroupId[] {
    const held = new Set<GroupId>(this.o.registry.groupIds())
    const v = this.o.vault
    if (v?.unlocked === true) for (const g of v.groupIds()) held.add(g)
    return [...held]
  }

  private onDescriptor (gid: GroupId, keepers: string[], members: Array<[Uint8Array, string]>): void {
    this.track(gid)
    // Anyone newly listed who has not got the group yet: deliver.
    const v = this.o.vault
    const me = v?.unlocked === true ? v.entityKey().publicKey : undefined
    if (me === undefined) return
    const chain = this.o.registry.chain(gid)
    if (chain === undefined || !equalBytes(chain.head().rec.s, me)) return
    const prev = chain.length >= 2 ? chain.version(chain.length - 1)!.rec.b : undefined
    for (const k of keepers) if (prev === undefined || !prev.k.includes(k)) this.o.store.enqueueDelivery(`peer:${k}`, gid)
    for (const [pub] of members) {
      if (equalBytes(pub, me)) continue
      if (prev === undefined || roleIn(prev, pub) === undefined) this.o.store.enqueueDelivery(`entity:${entityIdFromPublicKey(pub)}`, gid)
    }
    void this.outbox.process()
  }

  private onBindRecord (r: DecodedRecord<BindBody>): void {
    if (r.rec.b.peer === this.peerId) return
    this.outbox.wake(`entity:${r.signer}`)
  }

  /** Our own bind record in a group we are a member of (once per peer ID). */
  private publishBinding (gid: GroupId): void {
    const v = this.o.vault
    if (v === undefined || !v.unlocked) return
    const chain = this.o.registry.chain(gid)
    const me = v.entityKey()
    if (chain === undefined || roleIn(chain.current(), me.publicKey) === undefined) return
    const rec = signBinding(me, gid, this.o.clock.tick(), this.peerId)
    if (this.o.store.getHeadMeta(gid, rec.recordId) !== undefined) return
    this.o.acceptor.ingest([rec], 'local')
  }

  // ---- push ----

  private enqueuePublish (r: VerifiedRecord): void {
    const d = this.o.registry.chain(r.groupId)?.current()
    if (d === undefined || d.cul !== 'chatty') return
    if (!this.push.enqueue(r.groupId, r.bytes)) this.syncSoon(r.groupId, 2000)
  }

  // ---- anti-entropy ----

  private syncSoon (gid: GroupId, inMs: number): void {
    const at = Date.now() + inMs
    if ((this.nextSync.get(gid) ?? Infinity) > at) this.nextSync.set(gid, at)
  }

  /**
   * One session with one peer for one group; concurrent requests share it.
   * `fresh`: a session already under way may have compared the sets before the
   * caller's latest writes, so wait for it and run a new one (on-demand sync).
   */
  syncPeer (peer: string, gid: GroupId, fresh = false): Promise<SyncReport> {
    const key = `${peer}/${gid}`
    let p = this.running.get(key)
    if (p !== undefined && !fresh) return p
    const before = p
    p = (async () => {
      try {
        if (before !== undefined) await before
        await this.dialer.ensureConnected(peer)
        return await this.sync.syncWith(peerIdFromString(peer), gid)
      } catch (e) {
        return { peerId: peer, sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 0, error: (e as Error).message }
      } finally { if (this.running.get(key) === p) this.running.delete(key) }
    })()
    this.running.set(key, p)
    return p
  }

  /** Sync a group with every peer of it now (API: POST /groups/:gid/sync). */
  async syncGroup (gid: GroupId, extraPeers: string[] = []): Promise<{ peers: SyncReport[] }> {
    const peers = [...new Set([...this.groupPeers(gid), ...extraPeers])].filter(p => p !== this.peerId)
    if (peers.length === 0) return { peers: [] }
    const reports = await Promise.all(peers.map(async p => await this.syncPeer(p, gid, true)))
    this.nextSync.set(gid, Date.now() + this.intervalOf(gid))
    if (reports.every(r => r.error !== undefined)) {
      throw new CairnError('NO_PEERS', `none of this group's ${peers.length} peer(s) could be reached`, { peers: reports })
    }
    return { peers: reports }
  }

  private async tick (): Promise<void> {
    if (this.stopped) return
    const now = Date.now()
    for (const gid of this.o.registry.groupIds()) {
      const due = this.nextSync.get(gid)
      if (due === undefined) { this.track(gid); continue }
      if (due > now) continue
      this.nextSync.set(gid, now + this.intervalOf(gid))
      for (const p of this.groupPeers(gid)) if (this.dialer.connected(p) || this.dialer.mayDial(p, now)) void this.syncPeer(p, gid)
    }
    this.indexes.evictIdle(now)
    await this.outbox.process()
  }

  // ---- delivery ----

  /** Peer IDs serving an entity: connected nodes with its hello binding, then its bind records (in `gid` first). */
  nodesOf (pub: Uint8Array, gid?: GroupId): string[] {
    const out = new Set(this.hello.peersOfEntity(pub))
    const groups = gid !== undefined ? [gid, ...this.o.registry.groupIds().filter(g => g !== gid)] : this.o.registry.groupIds()
    for (const gid of groups) {
      for (const row of this.o.store.allOfKind(gid, 'bind')) {
        const r = fromStore(row, 'bind')
        if (equalBytes(r.rec.s, pub)) out.add(r.rec.b.peer)
      }
    }
    out.delete(this.peerId)
    return [...out]
  }

  /** A new member's node, where it is (multiaddr with /p2p/, or a peer ID found through the DHT). */
  deliverToEntity (entityId: string, gid: GroupId, hint: string): void { this.outbox.toEntity(entityId, gid, hint) }

  /** Owe the group to a keeper (added with an address hint). */
  deliverTo (peer: string, gid: GroupId, hint?: string): void { this.outbox.toPeer(peer, gid, hint) }
}
