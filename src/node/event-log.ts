/**
 * The node's recent events with IDs, for `GET /api/v1/events` (Server-Sent
 * Events): each event gets `id: <boot>-<seq>`, and a client reconnecting with
 * `Last-Event-ID` gets what it missed from a ring of the last CAPACITY events.
 *
 * IDs carry the daemon's boot so a client's ID from before a restart is never
 * mistaken for one of this run: such a client, or one whose ID fell out of the
 * ring, gets every buffered event and `gap: true` (some were lost).
 */
import type { LoggedEvent, NodeEvent } from '../api/backend.js'

const CAPACITY = 2000

export class EventLog {
  private readonly ring: Array<{ seq: number, event: NodeEvent }> = []
  private seq = 0
  private readonly listeners = new Set<(e: LoggedEvent) => void>()

  constructor (readonly boot: string = Date.now().toString(36), private readonly capacity = CAPACITY) {}

  push (event: NodeEvent): LoggedEvent {
    const seq = ++this.seq
    this.ring.push({ seq, event })
    if (this.ring.length > this.capacity) this.ring.shift()
    const logged = { id: `${this.boot}-${seq}`, event }
    for (const l of this.listeners) {
      try { l(logged) } catch { /* one subscriber's failure is not the others' */ }
    }
    return logged
  }

  /** Events after `lastId` (all buffered ones when it is unknown), and whether some were lost. */
  since (lastId: string | undefined): { events: LoggedEvent[], gap: boolean } {
    if (lastId === undefined || lastId === '') return { events: [], gap: false }
    const m = /^([0-9a-z]+)-(\d{1,15})$/.exec(lastId.trim())
    const all = this.ring.map(r => ({ id: `${this.boot}-${r.seq}`, event: r.event }))
    if (m === null || m[1] !== this.boot) return { events: all, gap: true }
    const after = Number(m[2])
    if (after > this.seq) return { events: all, gap: true }
    const oldest = this.ring[0]?.seq ?? this.seq + 1
    return { events: all.filter((_, i) => this.ring[i]!.seq > after), gap: after < oldest - 1 }
  }

  subscribe (fn: (e: LoggedEvent) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }
}
