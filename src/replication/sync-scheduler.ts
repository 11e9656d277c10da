/**
 * When each group's anti-entropy runs, and the sessions under way.
 *
 * - One session per (peer, group) at a time: concurrent requests share it, and
 *   one the peer runs with us for the group counts (the tie-break at open,
 *   sync-protocol.ts). A record written here while the sets were compared is
 *   not left to the next round: when the session was the peer's, or the group
 *   is taciturn (no push), one session of ours follows.
 * - A chatty group is reconciled every `chattyIntervalMs` (push does the rest),
 *   a taciturn one every `taciturnIntervalMs`; a group's first run is spread at
 *   random over one interval, so a restart does not sync every group at once.
 * - `soon()` brings a run forward (a rotation's re-encrypted records move in
 *   bulk by sync rather than by thousands of gossip messages).
 * - A failed session is recorded in the per-peer replication state; the
 *   caller gets a report with the error rather than an exception.
 * - Late subscribers: a group peer connected but not yet subscribed to the
 *   group's topic when a record was published (a keeper just restarted: its
 *   subscription is still on its way, after the sync on connect compared the
 *   sets) did not get it by push. When its subscription arrives, the group is
 *   synced with it at once, rather than at the next interval (a minute).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { GroupId } from '../crypto/ids.js'
import type { GroupRegistry } from '../groups/registry.js'
import { CairnError } from '../util/errors.js'
import type { Dialer } from './dialer.js'
import type { PushService } from './push.js'
import type { ReplicationState } from './replication-state.js'
import type { SyncReport, SyncService } from './sync-protocol.js'

export interface SyncSchedulerDeps {
  registry: GroupRegistry
  chattyIntervalMs: number
  taciturnIntervalMs: number
  sync: () => SyncService
  dialer: Dialer
  state: ReplicationState
  push: PushService
  /** Peer IDs that may hold the group (not this node). */
  groupPeers: (gid: GroupId) => string[]
  selfPeerId: () => string
}

/** How long after a publish that left a subscriber out its sync runs (the rest of a burst of writes rides along). */
const LEFT_OUT_SYNC_MS = 1000

export class SyncScheduler {
  private readonly running = new Map<string, Promise<SyncReport>>()
  private readonly nextSync = new Map<string, number>()
  private readonly lastSession = new Map<string, number>()
  /** gid → group peers connected but not subscribed when one of its records was published. */
  private readonly missed = new Map<GroupId, Set<string>>()
  /** gid → records written here (a count that only moves): did one come while a peer's session ran? */
  private readonly writes = new Map<GroupId, number>()
  /** (peer/gid) → the pending sync of a subscriber a publish left out. */
  private readonly soonSyncs = new Map<string, NodeJS.Timeout>()
  private stopping = false

  constructor (private readonly d: SyncSchedulerDeps) {
    d.push.onSubscribed((peer, gid) => { this.subscribed(peer, gid) })
  }

  /**
   * A record of `gid` was just published to `reached`: note the group peers it
   * could not reach by push. One not subscribed yet is synced when its
   * subscription arrives. One subscribed but left out (gossipsub had no open
   * stream to it yet: a connection just made, its subscription already read)
   * is synced a moment later, once for a burst of writes.
   */
  published (gid: GroupId, reached?: Set<string>): void {
    const peers = this.d.groupPeers(gid)
    if (peers.length === 0) return
    const subs = this.d.push.subscribers(gid)
    for (const p of peers) {
      if (!this.d.dialer.connected(p)) continue
      if (!subs.has(p)) {
        const set = this.missed.get(gid) ?? new Set<string>()
        this.missed.set(gid, set.add(p))
      } else if (reached !== undefined && !reached.has(p)) this.syncSoon(p, gid)
    }
  }

  private syncSoon (peer: string, gid: GroupId): void {
    const key = `${peer}/${gid}`
    if (this.soonSyncs.has(key) || this.stopping) return
    const t = setTimeout(() => { this.soonSyncs.delete(key); if (!this.stopping) void this.syncPeer(peer, gid, true) }, LEFT_OUT_SYNC_MS)
    t.unref()
    this.soonSyncs.set(key, t)
  }

  /** A record of `gid` was written here. */
  wrote (gid: GroupId): void { this.writes.set(gid, (this.writes.get(gid) ?? 0) + 1) }

  /** `peer` subscribed to the topic of `gid`: if it missed a push, sync with it now. */
  subscribed (peer: string, gid: GroupId): void {
    const set = this.missed.get(gid)
    if (set?.delete(peer) !== true) return
    if (set.size === 0) this.missed.delete(gid)
    void this.syncPeer(peer, gid, true)
  }

  /** Schedule a group held here (and subscribe a chatty one to its push topic). */
  track (gid: GroupId): void {
    const cur = this.d.registry.chain(gid)?.current()
    if (cur === undefined) return
    if (cur.cul === 'chatty') this.d.push.subscribe(gid)
    if (!this.nextSync.has(gid)) this.nextSync.set(gid, Date.now() + this.intervalOf(gid) * Math.random())
  }

  /** A group that ended here: never scheduled again. */
  forget (gid: GroupId): void { this.nextSync.delete(gid); this.missed.delete(gid); this.writes.delete(gid) }

  soon (gid: GroupId, inMs: number): void {
    const at = Date.now() + inMs
    if ((this.nextSync.get(gid) ?? Infinity) > at) this.nextSync.set(gid, at)
  }

  /** A session with this peer for this group ended without error just now. */
  sessionDone (peer: string, gid: GroupId): void { this.lastSession.set(`${peer}/${gid}`, Date.now()) }

  /** Whether a session with this peer for this group ended well less than `ms` ago. */
  recentlySynced (peer: string, gid: GroupId, ms: number): boolean {
    return Date.now() - (this.lastSession.get(`${peer}/${gid}`) ?? 0) <= ms
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
        await this.d.dialer.ensureConnected(peer)
        const wrote = this.writes.get(gid) ?? 0
        const r = await this.d.sync().syncWith(peerIdFromString(peer), gid, fresh)
        // A record written here while the sets were compared may have missed the
        // session: push brings it to a subscribed peer of a chatty group, but not
        // when the session was the peer's (the tie-break) nor in a taciturn group.
        // One more session of ours, not a chain of them.
        const followUp = r.error === undefined && (r.via === 'peer' || this.d.registry.chain(gid)?.current().cul === 'taciturn')
        if (followUp && (this.writes.get(gid) ?? 0) !== wrote && !this.stopping) return await this.d.sync().syncWith(peerIdFromString(peer), gid, true)
        return r
      } catch (e) {
        this.d.state.failed(gid, peer, (e as Error).message)
        return { peerId: peer, sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 0, error: (e as Error).message }
      } finally { if (this.running.get(key) === p) this.running.delete(key) }
    })()
    this.running.set(key, p)
    return p
  }

  /** Sync a group with every peer of it now (API: POST /groups/:gid/sync). */
  async syncGroup (gid: GroupId, extraPeers: string[] = []): Promise<{ peers: SyncReport[] }> {
    const self = this.d.selfPeerId()
    const peers = [...new Set([...this.d.groupPeers(gid), ...extraPeers])].filter(p => p !== self)
    if (peers.length === 0) return { peers: [] }
    const reports = await Promise.all(peers.map(async p => await this.syncPeer(p, gid, true)))
    this.nextSync.set(gid, Date.now() + this.intervalOf(gid))
    if (reports.every(r => r.error !== undefined)) {
      const why = reports.map(r => `${r.peerId.slice(-8)}: ${r.error ?? ''}`).join('; ')
      throw new CairnError('NO_PEERS', `none of this group's ${peers.length} peer(s) could be reached (${why})`, { peers: reports })
    }
    return { peers: reports }
  }

  /** Start the runs that are due: with each peer of the group that is connected or may be dialled now. */
  runDue (now: number): void {
    for (const gid of this.d.registry.groupIds()) {
      const due = this.nextSync.get(gid)
      if (due === undefined) { this.track(gid); continue }
      if (due > now) continue
      this.nextSync.set(gid, now + this.intervalOf(gid))
      for (const p of this.d.groupPeers(gid)) if (this.d.dialer.connected(p) || this.d.dialer.mayDial(p, now)) void this.syncPeer(p, gid)
    }
  }

  /** Every session under way has ended (stop). */
  async settled (): Promise<void> { await Promise.allSettled([...this.running.values()]) }

  /** Stop: no follow-up session starts; every session under way has ended. */
  async stop (): Promise<void> {
    this.stopping = true
    for (const t of this.soonSyncs.values()) clearTimeout(t)
    this.soonSyncs.clear()
    await this.settled()
  }

  private intervalOf (gid: GroupId): number {
    return this.d.registry.chain(gid)?.current().cul === 'taciturn' ? this.d.taciturnIntervalMs : this.d.chattyIntervalMs
  }
}
