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
 *   and on the schedule of sync-scheduler.ts; on demand.
 * - Membership: invitations, leaves and deletions travel by membership-net.ts.
 * - Delivery: a new keeper or member gets the descriptor chain (and its key
 *   envelopes) from the outbox, retried with backoff until it lands; then we sync.
 *   A member whose node is unknown is located through peers and the DHT.
 * - Connections: group peers' addresses persist in the address book and are
 *   redialled at start and after a disconnect (reconnect.ts).
 * - Visibility: per group and peer, what it lacks (replication-state.ts).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { GroupId } from '../crypto/ids.js'
import type { HybridClock } from '../crypto/hlc.js'
import type { AcceptorEvents, Acceptor } from '../groups/acceptor.js'
import type { GroupRegistry } from '../groups/registry.js'
import { onStored } from '../groups/record-rules.js'
import type { BindBody } from '../records/binding.js'
import { hasKind, type DecodedRecord, type VerifiedRecord } from '../records/record.js'
import type { Store } from '../store/store.js'
import type { TypedEmitter } from '../util/events.js'
import type { Logger } from '../util/logger.js'
import type { Vault } from '../vault/vault.js'
import type { Metrics } from '../util/metrics.js'
import { Bindings } from './bindings.js'
import { DeliverService } from './deliver.js'
import { GroupPeers } from './group-peers.js'
import { Outbox } from './outbox.js'
import { HelloService, type PeerInfo } from './hello.js'
import { IndexCache } from './index-cache.js'
import { AddressBook } from './address-book.js'
import { Dialer } from './dialer.js'
import { LocateService } from './locate.js'
import { Reconnector } from './reconnect.js'
import { ReplicationState } from './replication-state.js'
import { replicationView, type ReplicationEvent, type ReplicationPeer } from './replication-view.js'
import type { CairnLibp2p } from './libp2p-node.js'
import { PushService } from './push.js'
import { RecoverService } from './recover-protocol.js'
import { SyncService, type SyncReport } from './sync-protocol.js'
import { SyncScheduler } from './sync-scheduler.js'
import { Verifier } from './verifier.js'
import { MembershipNet } from './membership-net.js'
import { offerInvite } from './invite-protocol.js'
import type { InviteInbox } from '../groups/invite-inbox.js'

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
  /** Invitations this node's entity received (member nodes). */
  inbox?: InviteInbox
  /** Why a group's records are refused here: it ended (deleted, left). */
  ended?: (gid: GroupId) => string | undefined
  /** kad-dht runs: members may be located and announced through it. */
  dht: boolean
  /** Provide this node's entity in the DHT, so who knows the entity ID finds the node (locate.ts). */
  announceEntity: boolean
  /** Put bind records into groups (false while `cairn recover` builds a node: its peer ID may never run). */
  publishBindings?: boolean
  onEvent?: (e: ReplicationEvent) => void
  onSyncRecords?: (bytes: number) => void // the bytes of each records message a sync session received
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
  readonly membership: MembershipNet
  readonly book: AddressBook
  readonly reconnect: Reconnector
  readonly locate: LocateService
  readonly state: ReplicationState
  readonly verifier = new Verifier()
  readonly peers: GroupPeers
  private readonly greeted = new Set<string>()
  private entityAnnounced: 'no' | 'running' | 'done' = 'no'
  readonly bindings: Bindings
  readonly scheduler: SyncScheduler
  private timer: NodeJS.Timeout | undefined
  private readonly offs: Array<() => void> = []
  private readonly indexOffs: Array<() => void> = []
  private stopped = false
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly o: ReplicatorOptions) {
    this.indexes = new IndexCache(o.store, e => {
      if (e.rejected !== undefined) o.log.info({ group: e.gid, reason: e.rejected, ms: e.ms, records: e.size }, 'saved sync index not usable: rebuilt from the store')
      else o.log.debug({ group: e.gid, from: e.from, ms: e.ms, records: e.size }, 'sync index loaded')
    })
    const timeoutMs = o.requestTimeoutMs
    this.bindings = new Bindings({ store: o.store, registry: o.registry, acceptor: o.acceptor, clock: o.clock, vault: o.vault, peerId: () => this.peerId, publish: o.publishBindings !== false })
    this.hello = new HelloService({
      libp2p: o.libp2p, keeper: o.keeper, binding: () => this.bindings.current(),
      onPeer: info => { this.onPeer(info) },
      onBad: peer => { o.metrics.rejected.inc({ reason: 'bad-hello', origin: 'hello' }); o.log.debug({ peer }, 'bad hello') }
    })
    this.peers = new GroupPeers(o.registry, o.store, this.hello, () => this.peerId)
    this.book = new AddressBook(o.store.peers)
    this.state = new ReplicationState(o.store)
    this.dialer = new Dialer({ libp2p: o.libp2p, book: this.book, timeoutMs, info: peer => this.hello.info(peer) })
    // A keeper keeps its fellow keepers connected; member nodes (laptops, phones
    // that come and go) dial it, and it does not chase them.
    this.reconnect = new Reconnector({ libp2p: o.libp2p, dialer: this.dialer, book: this.book, groupPeers: () => o.keeper ? this.peers.keepers() : this.allGroupPeers(), log: o.log })
    this.locate = new LocateService({
      libp2p: o.libp2p, timeoutMs, log: o.log, dht: o.dht,
      connectedInfos: () => this.hello.all(),
      mayAsk: peer => this.peers.sharesAGroup(peer),
      mayReveal: e => this.peers.memberAnywhere(e)
    })
    this.sync = new SyncService({
      libp2p: o.libp2p, store: o.store, acceptor: o.acceptor, indexes: this.indexes, verifier: this.verifier,
      authorize: async (peer, gid) => this.authorized(peer, gid) || (this.hello.info(peer) === undefined && (await this.hello.known(peer)) !== undefined && this.authorized(peer, gid)),
      holds: gid => o.registry.has(gid),
      timeoutMs, maxMessageBytes: Math.max(o.maxRecordBytes * 2, 4 * 1024 * 1024), maxRecordBytes: o.maxRecordBytes, log: o.log,
      onSession: (r, role, startedAt) => {
        if (r.groupId !== undefined && r.error === undefined) this.scheduler.sessionDone(r.peerId, r.groupId, startedAt)
        const seen = this.state.sessionEnded(r)
        if (seen !== undefined) o.onEvent?.(seen)
        o.metrics.syncRounds.inc({ role, result: r.error === undefined ? 'ok' : 'error' })
        o.metrics.syncBytes.inc({ direction: 'total' }, r.bytes)
        o.metrics.syncRoundTrips.inc(r.roundTrips)
        o.metrics.received.inc({ path: 'sync' }, r.received)
      },
      onIblt: result => o.metrics.syncIblt.inc({ result }), onRecords: o.onSyncRecords, fillingFrom: gid => this.scheduler.fillingFrom(gid) })
    this.push = new PushService({ libp2p: o.libp2p, acceptor: o.acceptor, log: o.log, relaxed: fn => o.store.relaxed(() => o.store.tx(fn)), onPublished: n => { o.metrics.pushed.inc(n); o.metrics.pushMessages.inc({ kind: n > 1 ? 'bundle' : 'record' }) }, onReceived: n => o.metrics.received.inc({ path: 'push' }, n), afterPublish: (gid, reached) => this.scheduler.published(gid, reached), takesBundles: peer => this.hello.info(peer)?.pushBundles === true, maxRecordBytes: o.maxRecordBytes })
    this.scheduler = new SyncScheduler({
      registry: o.registry, chattyIntervalMs: o.chattyIntervalMs, taciturnIntervalMs: o.taciturnIntervalMs, sync: () => this.sync,
      dialer: this.dialer, state: this.state, push: this.push, groupPeers: gid => this.groupPeers(gid), selfPeerId: () => this.peerId,
      owed: (peer, gid) => this.outbox.pending(gid).get(`peer:${peer}`)?.attempts
    })
    this.deliver = new DeliverService({ libp2p: o.libp2p, acceptor: o.acceptor, timeoutMs, log: o.log })
    this.outbox = new Outbox({
      store: o.store, deliver: this.deliver, ensureConnected: async (p, h) => { await this.dialer.ensureConnected(p, h) }, nodesOf: pub => this.nodesOf(pub),
      locate: async pub => (await this.locate.findAndLearn(pub, (p, a) => this.dialer.learn(p, a, 'locate'))).filter(p => p !== this.peerId),
      stopped: () => this.stopped,
      onDelivered: (gid, peer, target) => {
        o.audit('descriptor-delivered', { groupId: gid, to: peer })
        this.state.clearError(gid, peer)
        this.o.onEvent?.({ type: 'delivered', groupId: gid, peerId: peer, target })
        this.invalidatePeers()
        void this.syncPeer(peer, gid)
      },
      onFailed: (gid, target, error, peers) => {
        for (const p of peers) this.state.failed(gid, p, error)
        this.o.onEvent?.({ type: 'delivery-failed', groupId: gid, target, error })
      },
      offerInvite: async (peer, inv, gid) => await offerInvite(o.libp2p, peerIdFromString(peer), inv, this.membership.hintsFor(gid), timeoutMs),
      onInviteReply: (gid, peer, reply) => { o.audit('invite-delivered', { groupId: gid, to: peer, status: reply.status }); this.membership.inviteReply(gid, peer, reply) }
    })
    this.membership = new MembershipNet({
      acceptor: o.acceptor, outbox: this.outbox, deliver: this.deliver, inbox: o.inbox, log: o.log, selfPeerId: o.libp2p.peerId.toString(),
      ensureConnected: async p => { await this.dialer.ensureConnected(p) },
      keepersOf: gid => o.registry.chain(gid)?.current().k ?? []
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
    await this.locate.start()
    this.push.start()
    for (const gid of o.registry.groupIds()) this.scheduler.track(gid)
    // The index follows the store until it is persisted at the very end of stop().
    this.indexOffs.push(o.events.on('stored', ({ record, previousHash }) => { this.indexes.added(record.groupId, record.hash, previousHash) }))
    this.indexOffs.push(o.events.on('removed', ({ groupId, hashes }) => { this.indexes.removed(groupId, hashes) }))
    this.offs.push(o.events.on('stored', ({ record, origin, reencrypted }) => {
      this.scheduler.changed(record.groupId) // a rotation (below) moves by sync in bulk, not by thousands of gossip messages
      if (origin === 'local') { this.scheduler.wrote(record.groupId); if (reencrypted === true) this.scheduler.soon(record.groupId, 1000); else this.enqueuePublish(record) }
      this.state.stored(record.groupId, this.peers.missedBy(record.groupId, origin === 'local' && reencrypted !== true, p => this.dialer.connected(p), gid => this.push.subscribers(gid)))
    }))
    this.offs.push(onStored(o.events, 'node-binding', ({ record }) => { this.onBindRecord(record as VerifiedRecord<BindBody>) }))
    this.offs.push(onStored(o.events, 'membership', ({ record, origin }) => {
      if (origin === 'local' && hasKind(record, 'invite')) this.membership.inviteWritten(record.groupId, record.rec.b.to)
      // An answer comes to one node by delivery; the other members need it too (a circle's holders
      // serve a new holder only once they hold its consent), sooner than the next anti-entropy round.
      if (origin === 'delivery' && hasKind(record, 'answer')) this.enqueuePublish(record)
    }))
    this.offs.push(o.events.on('rejected', ({ reason, peer, groupId }) => {
      if ((reason === 'group-deleted' || reason === 'left-group') && peer !== undefined && groupId !== undefined) this.membership.stalePeer(peer, groupId)
    }))
    this.offs.push(o.events.on('group-added', ({ groupId, from }) => { this.scheduler.track(groupId); this.bindings.publishIn(groupId); void this.scheduler.adopted(groupId, from) }))
    this.offs.push(o.events.on('descriptor', ({ groupId, descriptor }) => { this.invalidatePeers(); this.onDescriptor(groupId, descriptor.rec.b.k, descriptor.rec.b.m) }))
    const onConnect = (): void => { o.metrics.peers.set(o.libp2p.getPeers().length) }
    const onDisconnect = (e: CustomEvent<{ toString: () => string }>): void => {
      o.metrics.peers.set(o.libp2p.getPeers().length)
      const peer = e.detail.toString()
      if (!this.greeted.delete(peer)) return
      this.invalidatePeers()
      if (!this.stopped) o.onEvent?.({ type: 'peer-disconnected', peerId: peer })
    }
    o.libp2p.addEventListener('peer:connect', onConnect)
    o.libp2p.addEventListener('peer:disconnect', onDisconnect)
    this.offs.push(() => { o.libp2p.removeEventListener('peer:connect', onConnect); o.libp2p.removeEventListener('peer:disconnect', onDisconnect) })
    await this.reconnect.start()
    this.timer = setInterval(() => { void this.tick() }, TICK_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const f of this.offs) f()
    this.reconnect.stop()
    this.push.stop()
    await this.scheduler.stop()
    await Promise.allSettled([this.hello.stop(), this.sync.stop(), this.deliver.stop(), this.recover.stop(), this.locate.stop()])
    this.state.stop()
    await this.verifier.close()
    // Sessions have ended, so the indexes hold every record stored: the next
    // start loads them instead of rescanning each group (a record stored after
    // this deletes its group's saved index in the same transaction).
    try { this.driftedIndexes(this.indexes.persistAll()) } catch (e) { this.o.log.warn({ err: (e as Error).message }, 'could not save the sync indexes: the next start rebuilds them') }
    for (const f of this.indexOffs) f()
  }

  /** After unlock: sign a fresh binding, announce it, and put bind records into our groups. */
  async unlocked (): Promise<void> {
    const v = this.o.vault
    if (v === undefined || !v.unlocked) return
    this.bindings.refresh()
    await this.hello.announce()
    this.announceEntity()
  }

  /** Provide our entity in the DHT once it has peers to store the record (retried on the next hello until it worked). */
  private announceEntity (): void {
    const v = this.o.vault
    if (this.entityAnnounced !== 'no' || !this.o.announceEntity || !this.o.dht || v === undefined || !v.unlocked || this.o.libp2p.getPeers().length === 0) return
    this.entityAnnounced = 'running'
    void this.locate.announce(v.entityKey().publicKey).then(ok => { this.entityAnnounced = ok ? 'done' : 'no' })
  }

  // ---- group peers and authorisation (group-peers.ts) ----

  /** Peer IDs that may hold this group: its keepers and nodes bound to its members. */
  groupPeers (gid: GroupId): string[] { return this.peers.of(gid) }
  allGroupPeers (): string[] { return this.peers.all() }
  authorized (peer: string, gid: GroupId): boolean {
    // A peer asking to sync a group that ended here is a stale peer: it gets the proof.
    if (this.o.registry.chain(gid) === undefined && this.o.ended?.(gid) !== undefined) { this.membership.stalePeer(peer, gid); return false }
    return this.peers.authorized(peer, gid)
  }
  /** Peer IDs serving an entity: connected nodes with its hello binding, then its bind records (in `gid` first); `eachNodeOf` reads them as far as the caller goes. */
  nodesOf (pub: Uint8Array, gid?: GroupId): string[] { return this.peers.nodesOf(pub, gid) }
  eachNodeOf (pub: Uint8Array, gid?: GroupId): Iterable<string> { return this.peers.eachNodeOf(pub, gid) }

  private invalidatePeers (): void {
    this.peers.invalidate()
    this.reconnect.invalidate()
  }

  // ---- events ----

  private onPeer (info: PeerInfo): void {
    const fresh = !this.greeted.has(info.peerId)
    this.greeted.add(info.peerId)
    this.invalidatePeers()
    void this.reconnect.adopt(info.peerId)
    if (fresh) this.o.onEvent?.({ type: 'peer-connected', peerId: info.peerId, keeper: info.keeper, ...(info.entityId !== undefined ? { entityId: info.entityId } : {}) })
    this.announceEntity()
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
        // A peer still owed the group's descriptor does not hold it yet: the
        // delivery syncs once it lands (a session now would only be refused).
        const owed = this.outbox.pending(gid)
        if (owed.has(`peer:${info.peerId}`) || (info.entityId !== undefined && owed.has(`entity:${info.entityId}`))) continue
        if (!this.o.registry.has(gid) || this.authorized(info.peerId, gid) || this.groupPeers(gid).includes(info.peerId)) {
          if (!this.scheduler.recentlySynced(info.peerId, gid, 3000)) void this.syncPeer(info.peerId, gid)
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
    if (v?.unlocked === true) for (const g of v.groupIds()) if (this.o.ended?.(g) === undefined) held.add(g)
    return [...held]
  }

  /** A group ended here (deleted, left): no topic, no schedule, no index. */
  forgetGroup (gid: GroupId): void {
    this.push.unsubscribe(gid)
    this.scheduler.forget(gid)
    this.indexes.drop(gid)
  }

  private onDescriptor (gid: GroupId, keepers: string[], members: Array<[Uint8Array, string]>): void {
    this.scheduler.track(gid)
    const v = this.o.vault
    const chain = this.o.registry.chain(gid)
    if (v?.unlocked === true && chain !== undefined) this.outbox.oweNewcomers(gid, chain, v.entityKey().publicKey, keepers, members)
  }

  private onBindRecord (r: DecodedRecord<BindBody>): void {
    this.invalidatePeers()
    if (r.rec.b.peer === this.peerId) return
    this.outbox.wake(`entity:${r.signer}`)
  }

  // ---- push ----

  private enqueuePublish (r: VerifiedRecord): void {
    const d = this.o.registry.chain(r.groupId)?.current()
    if (d === undefined || d.cul !== 'chatty') return
    if (!this.push.enqueue(r.groupId, r.bytes)) this.scheduler.soon(r.groupId, 2000)
  }

  // ---- anti-entropy (sync-scheduler.ts) ----
  /** One session with one peer for one group; concurrent requests share it. */
  syncPeer (peer: string, gid: GroupId, fresh = false): Promise<SyncReport> { return this.scheduler.syncPeer(peer, gid, fresh) }
  /** Sync a group with every peer of it now (API: POST /groups/:gid/sync). */
  async syncGroup (gid: GroupId, extraPeers: string[] = []): Promise<{ peers: SyncReport[] }> { return await this.scheduler.syncGroup(gid, extraPeers) }

  private async tick (): Promise<void> {
    if (this.stopped) return
    const now = Date.now()
    this.scheduler.runDue(now)
    this.driftedIndexes(this.indexes.evictIdle(now))
    await this.outbox.process()
    await this.membership.sendAnswers()
  }

  /** An index whose count disagreed with the store's when saved: a bug to hear about (it was dropped, not saved). */
  private driftedIndexes (gids: GroupId[]): void {
    for (const g of gids) this.o.log.warn({ group: g }, 'sync index of a group disagreed with the store: dropped, the next sync rebuilds it')
  }

  // ---- delivery ----

  /** A new member's node, where it is (multiaddr with /p2p/, or a peer ID found through the DHT). */
  deliverToEntity (entityId: string, gid: GroupId, hint: string): void { this.outbox.toEntity(entityId, gid, hint) }

  /** Owe the group to a keeper (added with an address hint): the address is dialled at once. */
  deliverTo (peer: string, gid: GroupId, hint?: string): void {
    this.outbox.toPeer(peer, gid, hint)
    if (hint !== undefined) this.dialer.ensureConnected(peer, hint).catch(() => { /* the outbox retries and reports it */ })
  }

  /** Visibility: GET /groups/:gid/replication. */
  replication (gid: GroupId): ReplicationPeer[] {
    const d = this.o.registry.chain(gid)?.current()
    if (d === undefined) return []
    const v = this.o.vault
    return replicationView(gid, {
      self: this.peerId, me: v?.unlocked === true ? v.entityKey().publicKey : undefined, keepers: d.k, members: d.m.map(([pub]) => pub),
      nodesOf: pub => this.nodesOf(pub, gid), connected: p => this.dialer.connected(p), state: this.state, pending: this.outbox.pending(gid),
      dialError: p => this.dialer.backoffOf(p).lastError, records: this.o.store.countGroupRecords(gid)
    })
  }
}
