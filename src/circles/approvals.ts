/**
 * Share requests waiting for a holder's decision (approval policy `manual`).
 * The requester's stream stays open while a request waits; it ends with
 * approve, deny, or expiry (the requester gives up at the same deadline).
 */
import type { GroupId } from '../crypto/ids.js'
import { randomUUID } from 'node:crypto'

export type Decision = 'approved' | 'denied' | 'expired'

export interface ShareRequestView {
  id: string, groupId: GroupId, from: string, peerId: string, keyVersion: number,
  receivedAt: string, expiresAt: string, state: 'pending' | Decision
}

interface Pending { view: ShareRequestView, resolve: (d: Decision) => void, timer: NodeJS.Timeout }

const KEEP_DECIDED = 200

export class ApprovalQueue {
  private readonly pending = new Map<string, Pending>()
  private decided: ShareRequestView[] = []

  wait (r: Omit<ShareRequestView, 'id' | 'state' | 'receivedAt' | 'expiresAt'>, timeoutMs: number): { id: string, decision: Promise<Decision> } {
    const id = randomUUID()
    const now = Date.now()
    const view: ShareRequestView = { ...r, id, state: 'pending', receivedAt: new Date(now).toISOString(), expiresAt: new Date(now + timeoutMs).toISOString() }
    const decision = new Promise<Decision>(resolve => {
      const timer = setTimeout(() => { this.decide(id, 'expired') }, timeoutMs)
      timer.unref()
      this.pending.set(id, { view, resolve, timer })
    })
    return { id, decision }
  }

  /** Returns false if there is no pending request with this ID. */
  decide (id: string, d: Decision): boolean {
    const p = this.pending.get(id)
    if (p === undefined) return false
    clearTimeout(p.timer)
    this.pending.delete(id)
    p.view.state = d
    this.decided = [p.view, ...this.decided].slice(0, KEEP_DECIDED)
    p.resolve(d)
    return true
  }

  get (id: string): ShareRequestView | undefined { return this.pending.get(id)?.view ?? this.decided.find(v => v.id === id) }
  list (): ShareRequestView[] { return [...[...this.pending.values()].map(p => p.view), ...this.decided] }

  clear (): void { for (const id of [...this.pending.keys()]) this.decide(id, 'expired') }
}
