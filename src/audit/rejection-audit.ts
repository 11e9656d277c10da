/**
 * Rejected records are audited in aggregate: a hostile peer can send thousands
 * per second, and one audit entry each would let it flood the log. Counts by
 * reason are flushed as one `records-rejected` entry per interval.
 */
import type { AuditLog } from './audit-log.js'

export class RejectionAudit {
  private counts = new Map<string, number>()
  private peers = new Set<string>()
  private groups = new Set<string>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly audit: AuditLog, private readonly intervalMs = 5000) {}

  count (reason: string, origin: string, peer?: string, groupId?: string): void {
    if (origin === 'local') return
    const k = `${origin}:${reason}`
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1)
    if (peer !== undefined && this.peers.size < 50) this.peers.add(peer)
    if (groupId !== undefined && this.groups.size < 50) this.groups.add(groupId)
    this.timer ??= setTimeout(() => { this.flush() }, this.intervalMs)
    this.timer.unref?.()
  }

  flush (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.counts.size === 0) return
    this.audit.record('records-rejected', { counts: Object.fromEntries(this.counts), peers: [...this.peers], groups: [...this.groups] })
    this.counts = new Map()
    this.peers = new Set()
    this.groups = new Set()
  }
}
