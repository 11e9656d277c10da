/**
 * Where a group's records are, per peer (SPEC §4 "Where a write is, is
 * visible"): how many records this node holds that the peer lacks (`behind`),
 * when the last reconciliation with it ended, and the last error talking to it.
 *
 * `behind` is exact at the end of a reconciliation (0 when the session
 * completed: everything the peer lacked was sent) and counted forward from
 * there: every record stored here afterwards adds one for each group peer it
 * could not reach by push — the peer was not connected, not subscribed to the
 * group's topic, or the group is taciturn. A peer never reconciled with counts
 * every record of the group. Records pushed to a connected subscriber are
 * counted as reached (gossipsub floods our own publishes to every subscriber);
 * the next anti-entropy session (on reconnect, on the culture's timer) makes the
 * figure exact again.
 *
 * Kept in memory, written to `peer_sync` at most every FLUSH_MS and at stop, so
 * counting costs nothing on the write path; a crash loses at most that much
 * counting, and the reconnect's reconciliation corrects it.
 */
import type { GroupId } from '../crypto/ids.js'
import type { PeerSyncRow } from '../store/peer-tables.js'
import type { Store } from '../store/store.js'
import type { ReplicationEvent } from './replication-view.js'
import type { SyncReport } from './sync-protocol.js'

const FLUSH_MS = 2000
const MAX_ERROR = 300

export interface PeerSyncView { behind: number, lastSyncAt: string | null, lastError: string | null }

export class ReplicationState {
  private readonly rows = new Map<string, PeerSyncRow>()
  private readonly dirty = new Set<string>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly store: Store, private readonly now: () => number = Date.now) {}

  private row (gid: GroupId, peer: string): PeerSyncRow {
    const k = `${gid}\n${peer}`
    let r = this.rows.get(k)
    if (r === undefined) {
      r = this.store.peers.syncState(gid, peer) ?? { gid, peer, behind: this.store.countGroupRecords(gid), last_sync_at: null, last_error: null, error_at: null }
      this.rows.set(k, r)
    }
    return r
  }

  private touch (r: PeerSyncRow): void {
    this.dirty.add(`${r.gid}\n${r.peer}`)
    if (this.timer === undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; this.flush() }, FLUSH_MS)
      this.timer.unref()
    }
  }

  /** A record was stored here; `missed`: the group peers it did not reach by push. */
  stored (gid: GroupId, missed: Iterable<string>): void {
    for (const p of missed) {
      const k = `${gid}\n${p}`
      const known = this.rows.has(k) || this.store.peers.syncState(gid, p) !== undefined
      const r = this.row(gid, p)
      // A first row is initialised from the count, which includes this record.
      if (known) r.behind++
      this.touch(r)
    }
  }

  /** A reconciliation with the peer ended: `lacking` = what it still lacks (0 when the session completed). */
  reconciled (gid: GroupId, peer: string, lacking = 0): void {
    const r = this.row(gid, peer)
    r.behind = lacking
    r.last_sync_at = this.now()
    r.last_error = null
    r.error_at = null
    this.touch(r)
  }

  /** Talking to the peer about the group failed (dial, delivery, session). */
  /** A sync session ended: in sync with the peer, or its error; the event an operator hears of it. */
  sessionEnded (r: SyncReport): ReplicationEvent | undefined {
    if (r.groupId === undefined) return undefined
    if (r.error !== undefined) { this.failed(r.groupId, r.peerId, r.error); return { type: 'sync-failed', groupId: r.groupId, peerId: r.peerId, error: r.error } }
    this.reconciled(r.groupId, r.peerId, 0)
    return { type: 'synced', groupId: r.groupId, peerId: r.peerId, sent: r.sent, received: r.received }
  }

  failed (gid: GroupId, peer: string, error: string): void {
    const r = this.row(gid, peer)
    r.last_error = error.slice(0, MAX_ERROR)
    r.error_at = this.now()
    this.touch(r)
  }

  /** The peer is reachable again: its last error no longer describes it. */
  clearError (gid: GroupId, peer: string): void {
    const r = this.rows.get(`${gid}\n${peer}`) ?? this.store.peers.syncState(gid, peer)
    if (r === undefined || r.last_error === null) return
    const row = this.row(gid, peer)
    row.last_error = null
    row.error_at = null
    this.touch(row)
  }

  view (gid: GroupId, peer: string): PeerSyncView & { errorAt: number | null } {
    const r = this.row(gid, peer)
    return { behind: r.behind, lastSyncAt: r.last_sync_at === null ? null : new Date(r.last_sync_at).toISOString(), lastError: r.last_error, errorAt: r.error_at }
  }

  /** The group is gone from this node (left, deleted). */
  dropGroup (gid: GroupId): void {
    for (const k of [...this.rows.keys()]) if (k.startsWith(`${gid}\n`)) { this.rows.delete(k); this.dirty.delete(k) }
    this.store.peers.dropSyncState(gid)
  }

  flush (): void {
    if (this.dirty.size === 0) return
    const rows = [...this.dirty].map(k => this.rows.get(k)).filter((r): r is PeerSyncRow => r !== undefined)
    this.dirty.clear()
    // Without an fsync (synchronous=NORMAL, its own transaction every flush: 2.4–3.1% of a catching-up
    // keeper's CPU at FULL): a row a power loss drops costs one more sync, nothing else.
    try { this.store.relaxed(() => { this.store.peers.putSyncStates(rows) }) } catch { /* the store is closing: the next reconciliation recomputes it */ }
  }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.flush()
  }
}
