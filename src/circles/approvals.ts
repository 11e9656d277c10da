/**
 * Share requests waiting for a person's decision (approval policy `manual`).
 *
 * - One entry per (circle, requester entity, requester node): the requests of one
 *   unseal (one per key version still in use) arrive together and are decided
 *   together, so a person approves an unseal once, not once per key version.
 * - An entry ends with approve, deny, its deadline, or when every requester
 *   stream waiting on it has gone (the requester got enough shares elsewhere,
 *   gave up, or was cancelled): a decision can never reach a request that ended.
 * - At most MAX_PENDING entries: a member flooding a holder with requests gets
 *   `busy`, and the holder's memory stays bounded.
 * Listeners hear every change (the daemon turns them into an SSE event and a log
 * line, so the holder's person learns that someone waits).
 */
import type { GroupId } from '../crypto/ids.js'
import { randomUUID } from 'node:crypto'

export type Decision = 'approved' | 'denied' | 'expired'

export interface ShareRequestView {
  id: string, groupId: GroupId, from: string, peerId: string,
  /** The first key version asked for (every version of the entry: keyVersions). */
  keyVersion: number, keyVersions: number[],
  receivedAt: string, expiresAt: string, state: 'pending' | Decision
}

export interface Waiter {
  id: string
  decision: Promise<Decision>
  /** This requester stream is gone: the entry expires when no stream waits on it. */
  leave: () => void
}

interface Pending { view: ShareRequestView, key: string, resolve: (d: Decision) => void, timer: NodeJS.Timeout, waiters: number, deadline: number, decision: Promise<Decision> }

const KEEP_DECIDED = 200
export const MAX_PENDING = 256

export class ApprovalQueue {
  private readonly pending = new Map<string, Pending>()
  private readonly byKey = new Map<string, string>()
  private decided: ShareRequestView[] = []
  private readonly listeners: Array<(v: ShareRequestView) => void> = []

  onChange (fn: (v: ShareRequestView) => void): void { this.listeners.push(fn) }

  /** Queue (or join) a request; undefined when MAX_PENDING entries already wait. */
  wait (r: { groupId: GroupId, from: string, peerId: string, keyVersion: number }, timeoutMs: number): Waiter | undefined {
    const key = `${r.groupId}/${r.from}/${r.peerId}`
    const now = Date.now()
    const joined = this.pending.get(this.byKey.get(key) ?? '')
    if (joined !== undefined) {
      joined.waiters++
      if (!joined.view.keyVersions.includes(r.keyVersion)) joined.view.keyVersions.push(r.keyVersion)
      if (now + timeoutMs > joined.deadline) this.arm(joined, now + timeoutMs)
      return this.waiter(joined)
    }
    if (this.pending.size >= MAX_PENDING) return undefined
    const id = randomUUID()
    const view: ShareRequestView = {
      ...r, id, keyVersions: [r.keyVersion], state: 'pending', receivedAt: new Date(now).toISOString(), expiresAt: new Date(now + timeoutMs).toISOString()
    }
    let resolve!: (d: Decision) => void
    const decision = new Promise<Decision>(res => { resolve = res })
    const p: Pending = { view, key, resolve, decision, waiters: 1, deadline: 0, timer: setTimeout(() => {}, 0) }
    this.arm(p, now + timeoutMs)
    this.pending.set(id, p)
    this.byKey.set(key, id)
    this.notify(view)
    return this.waiter(p)
  }

  private waiter (p: Pending): Waiter {
    let left = false
    return {
      id: p.view.id,
      decision: p.decision,
      leave: () => {
        if (left) return
        left = true
        if (--p.waiters <= 0) this.decide(p.view.id, 'expired')
      }
    }
  }

  private arm (p: Pending, deadline: number): void {
    clearTimeout(p.timer)
    p.deadline = deadline
    p.view.expiresAt = new Date(deadline).toISOString()
    p.timer = setTimeout(() => { this.decide(p.view.id, 'expired') }, Math.max(0, deadline - Date.now()))
    p.timer.unref()
  }

  /** Returns false if there is no pending request with this ID. */
  decide (id: string, d: Decision): boolean {
    const p = this.pending.get(id)
    if (p === undefined) return false
    clearTimeout(p.timer)
    this.pending.delete(id)
    this.byKey.delete(p.key)
    p.view.state = d
    this.decided = [p.view, ...this.decided].slice(0, KEEP_DECIDED)
    p.resolve(d)
    this.notify(p.view)
    return true
  }

  get (id: string): ShareRequestView | undefined { return this.pending.get(id)?.view ?? this.decided.find(v => v.id === id) }
  list (): ShareRequestView[] { return [...[...this.pending.values()].map(p => p.view), ...this.decided] }
  pendingCount (): number { return this.pending.size }

  clear (): void { for (const id of [...this.pending.keys()]) this.decide(id, 'expired') }

  private notify (v: ShareRequestView): void {
    for (const l of this.listeners) l({ ...v, keyVersions: [...v.keyVersions] })
  }
}
