/**
 * The sync sessions under way on this node, by (peer, group), in either
 * direction: what the tie-break at session open reads (sync-protocol.ts
 * header, docs/SYNC.md "One session per pair").
 *
 * - `begin` registers a session before its opening is sent (initiator) or once
 *   its opening is read (responder), `end` settles it with its report. Each
 *   direction has its own entry: while openings cross, both are under way.
 * - `served(peer, gid, ms, since)`: the responder session for the key, the one
 *   under way, one that ended at or after `since` (the winner may be done before
 *   the decline of ours is read: a small set settles in one turn), or the first
 *   to begin within `ms` (the winner's opening may still be on its way when ours
 *   was declined); undefined when none came.
 */
import type { GroupId } from '../crypto/ids.js'
import type { SyncReport } from './sync-protocol.js'

export type Role = 'initiator' | 'responder'

interface Live { ended: Promise<SyncReport>, settle: (r: SyncReport) => void }

export interface SessionHandle { end: (r: SyncReport) => void }

export class SyncSessions {
  private readonly live = new Map<string, Live>()
  /** Waiters for a responder session to begin, by key. */
  private readonly waiting = new Map<string, Set<() => void>>()
  /** The last responder session ended per key, kept `keepMs` for a declined initiator that reads it late. */
  private readonly recent = new Map<string, { at: number, report: SyncReport }>()
  private closed = false

  constructor (private readonly keepMs = 60_000) {}

  /** When the session under way for (peer, gid) in this role ends; undefined when none is. */
  get (peer: string, gid: GroupId, role: Role): Promise<SyncReport> | undefined { return this.live.get(key(peer, gid, role))?.ended }

  /** Register a session (replacing the entry of an older one in the same role, which keeps its own `ended`). */
  begin (peer: string, gid: GroupId, role: Role): SessionHandle {
    const k = key(peer, gid, role)
    let settle!: (r: SyncReport) => void
    const ended = new Promise<SyncReport>(resolve => { settle = resolve })
    const entry: Live = { ended, settle }
    this.live.set(k, entry)
    if (role === 'responder') for (const wake of [...this.waiting.get(k) ?? []]) wake()
    return {
      end: r => {
        if (this.live.get(k) === entry) this.live.delete(k)
        if (role === 'responder') this.remember(k, r)
        entry.settle(r)
      }
    }
  }

  /** The responder session for (peer, gid): under way, ended at or after `since`, or the first to begin within `ms`. */
  async served (peer: string, gid: GroupId, ms: number, since = Infinity): Promise<Promise<SyncReport> | undefined> {
    const k = key(peer, gid, 'responder')
    const now = this.live.get(k)
    if (now !== undefined || this.closed) return now?.ended
    const last = this.recent.get(k)
    if (last !== undefined && last.at >= since) return Promise.resolve(last.report)
    await new Promise<void>(resolve => {
      const set = this.waiting.get(k) ?? new Set<() => void>()
      const done = (): void => { clearTimeout(t); set.delete(done); if (set.size === 0) this.waiting.delete(k); resolve() }
      const t = setTimeout(done, ms)
      t.unref()
      this.waiting.set(k, set.add(done))
    })
    return this.live.get(k)?.ended
  }

  private remember (k: string, report: SyncReport): void {
    const entry = { at: Date.now(), report }
    this.recent.set(k, entry)
    // Only a decline read within a session timeout of the end needs it.
    setTimeout(() => { if (this.recent.get(k) === entry) this.recent.delete(k) }, this.keepMs).unref()
  }

  /** Stop: nobody waits for a session to begin any more. */
  close (): void {
    this.closed = true
    for (const set of [...this.waiting.values()]) for (const wake of [...set]) wake()
  }
}

const key = (peer: string, gid: GroupId, role: Role): string => `${role}:${peer}/${gid}`
