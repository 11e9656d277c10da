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
 * - A scheduled run skips a peer the group was reconciled with (by either side)
 *   in the last 0.9 interval: one session per pair per interval, not two; and
 *   one whose last session began after anything of the group was last stored
 *   here, for up to 10 intervals: a quiet group costs no session.
 * - At most 8 sessions of ours with one peer at a time; the rest wait their turn.
 * - A failed session is recorded in the per-peer replication state; the
 *   caller gets a report with the error rather than an exception.
 * - Late subscribers: a group peer connected but not yet subscribed to the
 *   group's topic when a record was published (a keeper just restarted: its
 *   subscription is still on its way, after the sync on connect compared the
 *   sets) did not get it by push. When its subscription arrives, the group is
 *   synced with it at once, rather than at the next interval (a minute); if it
 *   has not arrived a second later (gossipsub lost it: seen with a keeper
 *   joining 1,000 topics at once), the group is synced with it then.
 * - A group just adopted here (`adopted`) is filled from one peer, then met with
 *   the rest: each of its holders would otherwise send the whole set at once
 *   (a keeper added to a group of 100,000 items held by its owner and a keeper
 *   received 215 MiB for 122 MiB of records, in two sessions).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { GroupId } from '../crypto/ids.js'
import type { GroupRegistry } from '../groups/registry.js'
import { CairnError } from '../util/errors.js'
import { KeyedLimiter } from '../util/keyed-limiter.js'
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
  /** The failed attempts of the group's delivery to this peer still owed (outbox.ts); undefined: none owed. */
  owed?: (peer: string, gid: GroupId) => number | undefined
}

/**
 * No session with a peer still owed the group's delivery, until it failed this many
 * times. Until it lands the peer does not hold the group and refuses a session
 * ("not-found"); the delivery syncs it when it lands. A node adding a keeper to 250
 * groups had ~45 such refusals logged as failures, each a wasted session. After a few
 * failures sessions resume: the peer may hold the group from another member and refuse
 * our delivery, and a session is then the way to meet it.
 */
const OWED_ATTEMPTS = 3

/** How long after a publish that left a subscriber out its sync runs (the rest of a burst of writes rides along). */
const LEFT_OUT_SYNC_MS = 1000

/**
 * A scheduled run skips a peer whose session with us for the group (either side's)
 * ended less than this share of an interval ago: anti-entropy moves records both
 * ways, so both sides' timers each opening a session every interval did the work
 * twice (a keeper holding 1,000 chatty groups ran ~33 sessions a second doing
 * nothing). The pair still meets at least once an interval: the side whose timer
 * comes first runs it, the other finds it recent.
 */
const RECENT_SHARE = 0.9

/**
 * A scheduled run also skips a peer when nothing of the group was stored here since
 * our last session with it began: the sets were equal then, and what the peer stored
 * since makes the peer's own timer run (it applies the same rule). A quiet group's pair
 * still meets every this many intervals (a peer that does not, a lost change).
 */
const QUIET_ROUNDS = 10

/**
 * Sessions this node opens with one peer at a time. A peer accepts 16 sync streams
 * per connection and resets the rest: 4 nodes adding a keeper to 250 groups each
 * opened more, and ~1,800 sessions failed with "stream closed" (each then waited a
 * round). Half of 16 leaves the peer's own sessions with us their share.
 */
const SESSIONS_PER_PEER = 8

export class SyncScheduler {
  private readonly running = new Map<string, Promise<SyncReport>>()
  private readonly nextSync = new Map<string, number>()
  /** (peer/gid) → the last session ended without error: when its stream opened, when it ended. */
  private readonly lastSession = new Map<string, { start: number, end: number }>()
  /** gid → when a record of it was last stored here (any origin). */
  private readonly lastChange = new Map<GroupId, number>()
  /** gid → group peers connected but not subscribed when one of its records was published. */
  private readonly missed = new Map<GroupId, Set<string>>()
  /** gid → records written here (a count that only moves): did one come while a peer's session ran? */
  private readonly writes = new Map<GroupId, number>()
  /** (peer/gid) → the pending sync of a subscriber a publish left out. */
  private readonly soonSyncs = new Map<string, NodeJS.Timeout>()
  /** Groups whose next run was brought forward: it syncs with every peer, however recent its last session. */
  private readonly forced = new Set<GroupId>()
  /** Sessions we open, per peer: the rest wait (sync-protocol.ts takes 16 inbound per connection and resets the rest). */
  private readonly slots = new KeyedLimiter(SESSIONS_PER_PEER)
  /** Groups being filled from their first peer (`adopted`): no scheduled run, no session with another peer meanwhile. */
  private readonly fills = new Map<GroupId, Fill>()
  private stopping = false

  constructor (private readonly d: SyncSchedulerDeps) {
    d.push.onSubscribed((peer, gid) => { this.subscribed(peer, gid) })
  }

  /**
   * A record of `gid` was just published to `reached`: note the group peers it
   * could not reach by push. One not subscribed yet is synced when its
   * subscription arrives, or a moment later if it has not. One subscribed but left out (gossipsub had no open
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
        // Its subscription may never come on this connection (gossipsub lost it): then a moment later.
        this.syncSoon(p, gid)
      } else if (reached !== undefined && !reached.has(p)) this.syncSoon(p, gid)
    }
  }

  private syncSoon (peer: string, gid: GroupId): void {
    const key = `${peer}/${gid}`
    if (this.soonSyncs.has(key) || this.stopping) return
    const t = setTimeout(() => {
      this.soonSyncs.delete(key)
      if (this.stopping) return
      const m = this.missed.get(gid)
      if (m?.delete(peer) === true && m.size === 0) this.missed.delete(gid)
      if (this.awaitsDelivery(peer, gid)) return
      void this.syncPeer(peer, gid, true)
    }, LEFT_OUT_SYNC_MS)
    t.unref()
    this.soonSyncs.set(key, t)
  }

  private cancelSoon (peer: string, gid: GroupId): void {
    const key = `${peer}/${gid}`
    const t = this.soonSyncs.get(key)
    if (t !== undefined) { clearTimeout(t); this.soonSyncs.delete(key) }
  }

  /** A record of `gid` was written here. */
  wrote (gid: GroupId): void { this.writes.set(gid, (this.writes.get(gid) ?? 0) + 1) }

  /** `peer` subscribed to the topic of `gid`: if it missed a push, sync with it now. */
  subscribed (peer: string, gid: GroupId): void {
    const set = this.missed.get(gid)
    if (set?.delete(peer) !== true) return
    if (set.size === 0) this.missed.delete(gid)
    this.cancelSoon(peer, gid)
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
  forget (gid: GroupId): void {
    for (const p of this.missed.get(gid) ?? []) this.cancelSoon(p, gid)
    this.nextSync.delete(gid); this.missed.delete(gid); this.writes.delete(gid); this.forced.delete(gid); this.lastChange.delete(gid)
  }

  soon (gid: GroupId, inMs: number): void {
    this.forced.add(gid)
    const at = Date.now() + inMs
    if ((this.nextSync.get(gid) ?? Infinity) > at) this.nextSync.set(gid, at)
  }

  /**
   * A group just adopted here, which holds little or nothing of it yet: sync it
   * with one peer (`from`, the one that delivered it; else one already in a
   * session with us for it; else a connected one), the next when one fails, and
   * only then with the others, which have little left to send. Meanwhile a
   * session with any other peer for the group (a sync on connect, say) waits.
   * Ends when every session it started has.
   */
  async adopted (gid: GroupId, from?: string): Promise<void> {
    this.track(gid)
    if (this.fills.has(gid) || this.stopping) return
    const now = Date.now()
    this.nextSync.set(gid, now + this.intervalOf(gid)) // the fill is this interval's run
    const live = (p: string): boolean => this.running.has(`${p}/${gid}`) || this.d.sync().sessions.get(p, gid, 'responder') !== undefined
    const rank = (p: string): number => p === from ? 0 : live(p) ? 1 : this.d.dialer.connected(p) ? 2 : 3
    // `from` holds the group (it sent it) though this node may not know its binding yet.
    const peers = [...new Set([...(from !== undefined ? [from] : []), ...this.d.groupPeers(gid)])]
      .filter(p => this.reachable(p, gid, now))
      .sort((a, b) => rank(a) - rank(b))
    const fill = new Fill()
    this.fills.set(gid, fill)
    let first = 0
    try {
      for (; first < peers.length && !this.stopping; first++) {
        fill.from(peers[first]!)
        if ((await this.syncPeer(peers[first]!, gid)).error === undefined) break
      }
    } finally { fill.end(); this.fills.delete(gid) }
    // The others as known now (the records just received may name more), less those tried.
    const tried = new Set(peers.slice(0, first + 1))
    const rest = this.d.groupPeers(gid).filter(p => !tried.has(p) && this.reachable(p, gid, Date.now()))
    if (!this.stopping) await Promise.all(rest.map(async p => await this.syncPeer(p, gid)))
  }

  /** The peer `gid` is being filled from, while its fill's first session runs (sync-protocol.ts declines the others). */
  fillingFrom (gid: GroupId): string | undefined { return this.fills.get(gid)?.peer }

  /** A session with this peer for this group ended without error just now. */
  sessionDone (peer: string, gid: GroupId, startedAt?: number): void {
    const end = Date.now()
    this.lastSession.set(`${peer}/${gid}`, { start: startedAt ?? end, end })
  }

  /** A record of `gid` was stored here (written, pushed, synced). */
  changed (gid: GroupId): void { this.lastChange.set(gid, Date.now()) }

  /**
   * Nothing of `gid` was stored here since our last session with `peer` for it
   * began, and it ended less than `ms` ago: what we hold, the peer had then.
   */
  private unchangedSince (peer: string, gid: GroupId, ms: number, now: number): boolean {
    const s = this.lastSession.get(`${peer}/${gid}`)
    return s !== undefined && now - s.end <= ms && (this.lastChange.get(gid) ?? 0) < s.start
  }

  /** Whether a session with this peer for this group ended well less than `ms` ago. */
  recentlySynced (peer: string, gid: GroupId, ms: number, now = Date.now()): boolean {
    return now - (this.lastSession.get(`${peer}/${gid}`)?.end ?? 0) <= ms
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
        for (let f = this.fills.get(gid); f !== undefined && f.peer !== peer; f = this.fills.get(gid)) await f.moved
        await this.d.dialer.ensureConnected(peer)
        const wrote = this.writes.get(gid) ?? 0
        const r = await this.session(peer, gid, fresh)
        // A record written here while the sets were compared may have missed the
        // session: push brings it to a subscribed peer of a chatty group, but not
        // when the session was the peer's (the tie-break) nor in a taciturn group.
        // One more session of ours, not a chain of them.
        const followUp = r.error === undefined && (r.via === 'peer' || this.d.registry.chain(gid)?.current().cul === 'taciturn')
        if (followUp && (this.writes.get(gid) ?? 0) !== wrote && !this.stopping) return await this.session(peer, gid, true)
        return r
      } catch (e) {
        this.d.state.failed(gid, peer, (e as Error).message)
        return { peerId: peer, sent: 0, received: 0, bytes: 0, reconcileBytes: 0, roundTrips: 0, error: (e as Error).message }
      } finally { if (this.running.get(key) === p) this.running.delete(key) }
    })()
    this.running.set(key, p)
    return p
  }

  /** One session of ours, when one of the peer's slots is free. */
  private async session (peer: string, gid: GroupId, fresh: boolean): Promise<SyncReport> {
    return await this.slots.run(peer, async () => await this.d.sync().syncWith(peerIdFromString(peer), gid, fresh))
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
      if (due > now || this.fills.has(gid)) continue
      const interval = this.intervalOf(gid)
      this.nextSync.set(gid, now + interval)
      const forced = this.forced.delete(gid)
      for (const p of this.d.groupPeers(gid)) {
        if (!forced && (this.recentlySynced(p, gid, interval * RECENT_SHARE, now) || this.unchangedSince(p, gid, interval * QUIET_ROUNDS, now))) continue
        if (this.reachable(p, gid, now)) void this.syncPeer(p, gid)
      }
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

  /** Connected or may be dialled now, and not still owed the group's delivery. */
  private reachable (peer: string, gid: GroupId, now: number): boolean {
    return (this.d.dialer.connected(peer) || this.d.dialer.mayDial(peer, now)) && !this.awaitsDelivery(peer, gid)
  }

  private awaitsDelivery (peer: string, gid: GroupId): boolean { return (this.d.owed?.(peer, gid) ?? OWED_ATTEMPTS) < OWED_ATTEMPTS }

  private intervalOf (gid: GroupId): number {
    return this.d.registry.chain(gid)?.current().cul === 'taciturn' ? this.d.taciturnIntervalMs : this.d.chattyIntervalMs
  }
}

/** The peer a group is being filled from; `moved` settles when that changes or the fill ends. */
class Fill {
  peer: string | undefined
  moved: Promise<void>
  private wake!: () => void
  constructor () { this.moved = this.next() }
  from (peer: string): void { this.peer = peer; this.wake(); this.moved = this.next() }
  end (): void { this.peer = undefined; this.wake() }
  private next (): Promise<void> { return new Promise<void>(resolve => { this.wake = resolve }) }
}
