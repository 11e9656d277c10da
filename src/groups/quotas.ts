/**
 * What peers may make this node store: the acceptor asks before it stores a
 * record that came from the network (push, sync, delivery); local writes and
 * recovery are never charged.
 *
 * - Rate, per (group, peer): token buckets for records and bytes, refilled
 *   continuously. The burst is generous (an honest keeper's catch-up of a
 *   large group arrives at full speed); past it a peer that floods a group is
 *   held to the sustained rate while every other peer and group is unaffected.
 *   Refusals are `rate-limited`: counted, audited in aggregate, and the
 *   sender's gossip score drops; a sync peer resends at its next session.
 * - Budget: `keeper.max_bytes`, the most record bytes the node stores in
 *   total (0 = no budget). A record that would pass it is `storage-full`:
 *   the sender is not at fault (gossip Ignore), and the node says so in its
 *   log and audit.
 *
 * Memory: at most MAX_BUCKETS buckets (least recently used dropped: a
 * dropped bucket comes back full, which errs on the side of honest peers).
 */
import type { RejectReason } from './reject-reason.js'

export interface QuotaLimits {
  /** Sustained records per second one peer may have stored in one group (replication.peer_records_per_second). */
  recordsPerSecond: number
  /** Records a peer may send at once before the rate applies (10 s worth). */
  recordBurst: number
  /** Sustained bytes per second per (group, peer) (replication.peer_bytes_per_second). */
  bytesPerSecond: number
  /** Byte burst (10 s worth). */
  byteBurst: number
  /** Total record bytes this node stores; 0 = no budget (keeper.max_bytes). */
  maxBytes: number
}

/** The burst is this many seconds of the sustained rate. */
export const BURST_SECONDS = 10

export function quotaLimits (recordsPerSecond: number, bytesPerSecond: number, maxBytes: number): QuotaLimits {
  return { recordsPerSecond, recordBurst: recordsPerSecond * BURST_SECONDS, bytesPerSecond, byteBurst: bytesPerSecond * BURST_SECONDS, maxBytes }
}

const MAX_BUCKETS = 10_000

interface Bucket { records: number, bytes: number, at: number }

export class Quotas {
  private readonly buckets = new Map<string, Bucket>()
  private used: number
  private readonly now: () => number

  /** `usedBytes`: what the store holds now; kept current through charge() and release(). */
  constructor (readonly limits: QuotaLimits, usedBytes: number, now: () => number = Date.now) {
    this.used = usedBytes
    this.now = now
  }

  get usedBytes (): number { return this.used }

  /**
   * May `peer` have a record of `bytes` stored in `groupId` (replacing one of
   * `replacedBytes`)? Charges it when yes.
   */
  admit (groupId: string, peer: string | undefined, bytes: number, replacedBytes = 0): RejectReason | undefined {
    const grow = bytes - replacedBytes
    if (this.limits.maxBytes > 0 && grow > 0 && this.used + grow > this.limits.maxBytes) return 'storage-full'
    if (peer !== undefined) {
      const b = this.bucket(`${groupId}|${peer}`)
      if (b.records < 1 || b.bytes < bytes) return 'rate-limited'
      b.records -= 1
      b.bytes -= bytes
    }
    this.used += grow
    return undefined
  }

  /** A local write or a recovery: never refused, but it takes its room in the budget. */
  charge (grow: number): void { this.used = Math.max(0, this.used + grow) }

  /** The store's own total, after deletes and purges (which the acceptor does not see). */
  resync (usedBytes: number): void { this.used = usedBytes }

  private bucket (key: string): Bucket {
    const t = this.now()
    let b = this.buckets.get(key)
    if (b === undefined) {
      b = { records: this.limits.recordBurst, bytes: this.limits.byteBurst, at: t }
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!)
    } else {
      this.buckets.delete(key) // re-inserted below: Map order is recency
      const dt = Math.max(0, t - b.at) / 1000
      b.records = Math.min(this.limits.recordBurst, b.records + dt * this.limits.recordsPerSecond)
      b.bytes = Math.min(this.limits.byteBurst, b.bytes + dt * this.limits.bytesPerSecond)
      b.at = t
    }
    this.buckets.set(key, b)
    return b
  }
}
