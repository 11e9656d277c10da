/**
 * What the node tells its operator: one place that turns what happens
 * (replication events, audit entries, job updates) into SSE events
 * (`GET /api/v1/events`) and info-level log lines an operator reads.
 *
 * Messages name things by short IDs (full IDs are fields of the line) and say
 * what happens next ("will retry"); never content, names or keys. A job logs
 * its state changes, not its progress ticks; a sync logs only when it moved
 * records or failed (a quiet anti-entropy round every minute is not news).
 */
import type { NodeEvent } from '../api/backend.js'
import type { GroupId } from '../crypto/ids.js'
import type { AuditEntry } from '../audit/audit-log.js'
import type { JobView } from '../jobs/job-runner.js'
import type { ReplicationEvent } from '../replication/replication-view.js'
import type { Logger } from '../util/logger.js'
import type { CircleService } from '../circles/circle-service.js'
import type { Ed25519State } from '../crypto/sign.js'

export interface ActivityDeps { log: Logger, emit: (e: NodeEvent) => void }

/** `12D3KooW…` peer IDs by their tail, UUIDs by their head, entity IDs by their head. */
export function shortId (id: string | undefined): string {
  if (id === undefined) return '?'
  if (id.startsWith('12D3KooW')) return '…' + id.slice(-6)
  if (id.startsWith('cairn1')) return id.slice(0, 12) + '…'
  return id.length > 12 ? id.slice(0, 8) : id
}

const at = (): string => new Date().toISOString()

export function onReplication (d: ActivityDeps, e: ReplicationEvent): void {
  switch (e.type) {
    case 'peer-connected':
      d.emit({ type: 'peer-connected', peerId: e.peerId, ...(e.entityId !== undefined ? { entityId: e.entityId } : {}), kind: e.keeper ? 'keeper' : 'node', at: at() })
      d.log.info({ peer: e.peerId, entity: e.entityId, keeper: e.keeper }, `peer ${shortId(e.peerId)} connected (${e.keeper ? 'keeper' : e.entityId !== undefined ? `node of ${shortId(e.entityId)}` : 'node'})`)
      return
    case 'peer-disconnected':
      d.emit({ type: 'peer-disconnected', peerId: e.peerId, at: at() })
      d.log.info({ peer: e.peerId }, `peer ${shortId(e.peerId)} disconnected`)
      return
    case 'delivered':
      d.emit({ type: 'delivery-done', groupId: e.groupId, peerId: e.peerId, kind: e.target.startsWith('entity:') ? 'member' : 'keeper', at: at() })
      d.log.info({ group: e.groupId, peer: e.peerId }, `group ${shortId(e.groupId)} delivered to ${shortId(e.peerId)}`)
      return
    case 'delivery-failed':
      d.emit({ type: 'delivery-failed', groupId: e.groupId, kind: e.target.startsWith('entity:') ? 'member' : 'keeper', error: e.error, at: at() })
      d.log.info({ group: e.groupId, target: e.target, err: e.error }, `delivery of group ${shortId(e.groupId)} to ${shortId(e.target.slice(e.target.indexOf(':') + 1))} failed; will retry`)
      return
    case 'synced':
      if (e.sent + e.received === 0) return
      d.emit({ type: 'synced', groupId: e.groupId, peerId: e.peerId, sent: e.sent, received: e.received, at: at() })
      d.log.info({ group: e.groupId, peer: e.peerId, sent: e.sent, received: e.received }, `synced group ${shortId(e.groupId)} with ${shortId(e.peerId)}: sent ${e.sent}, received ${e.received}`)
      return
    case 'sync-failed':
      d.emit({ type: 'sync-failed', groupId: e.groupId, peerId: e.peerId, error: e.error, at: at() })
      d.log.info({ group: e.groupId, peer: e.peerId, err: e.error }, `sync of group ${shortId(e.groupId)} with ${shortId(e.peerId)} failed; retried on the next round`)
  }
}

/**
 * Audit kinds an operator wants to hear of as they happen, with the event they
 * become. Share requests waiting or decided and unseal progress are told by the
 * circle service itself (daemon.ts wireCircleEvents), not here.
 */
const AUDIT: Record<string, { type: string, kind?: string, say: (x: Record<string, unknown>) => string }> = {
  'circle-sealed': { type: 'sealed', say: x => `circle ${shortId(x.groupId as string)} sealed (${String(x.reason ?? 'requested')}): its key is wiped from memory` },
  'share-released': { type: 'share-request', kind: 'released', say: x => `share of circle ${shortId(x.groupId as string)} released to ${shortId(x.to as string)}` },
  'share-refused': { type: 'share-request', kind: 'refused', say: x => `share request from ${shortId(x.from as string | undefined)} refused: ${String(x.reason ?? '')}` },
  'share-bad': { type: 'share-request', kind: 'bad-share', say: x => `holder ${shortId(x.holder as string)} returned a share that fails its commitment` },
  'key-rotated': { type: 'key-rotated', say: x => `group ${shortId(x.groupId as string)} key rotated to v${String(x.keyVersion)}` },
  'keeper-added': { type: 'keeper-added', say: x => `keeper ${shortId(x.peerId as string)} added to group ${shortId(x.groupId as string)}` },
  'member-added': { type: 'member-added', say: x => `member ${shortId(x.entityId as string)} added to group ${shortId(x.groupId as string)}` },
  'member-removed': { type: 'member-removed', say: x => `member ${shortId(x.entityId as string)} removed from group ${shortId(x.groupId as string)}` },
  'recovery-served': { type: 'recovery', kind: 'served', say: x => `served a vault backup to recovering node ${shortId(x.peer as string)}` },
  'recovery-denied': { type: 'recovery', kind: 'denied', say: x => `refused a recovery attempt from ${shortId(x.peer as string)} (wrong passphrase proof)` },
  'records-rejected': { type: 'records-rejected', say: x => `refused ${String(x.count ?? '')} records (${String(x.reason ?? '')})` },
  'unlock-failed': { type: 'unlock-failed', say: () => 'unlock refused: wrong passphrase' }
}

export function onAudit (d: ActivityDeps, entry: AuditEntry): void {
  const m = AUDIT[entry.kind]
  if (m === undefined) return
  const x = entry as Record<string, unknown>
  d.emit({
    type: m.type, at: at(),
    ...(m.kind !== undefined ? { kind: m.kind } : {}),
    // An audit entry's groupId was a GroupId when it was recorded.
    ...(typeof x.groupId === 'string' ? { groupId: x.groupId as GroupId } : {}),
    ...(typeof x.peer === 'string' ? { peerId: x.peer } : typeof x.peerId === 'string' ? { peerId: x.peerId } : {}),
    ...(typeof x.from === 'string' ? { entityId: x.from } : typeof x.entityId === 'string' ? { entityId: x.entityId } : {})
  })
  d.log.info({ audit: entry.seq, kind: entry.kind, group: x.groupId }, m.say(x))
}

/** One event per job step (state change or batch), one log line per state change. */
export function onJob (d: ActivityDeps, j: JobView, prev: JobView['state'] | undefined): void {
  d.emit({ type: 'job', id: j.id, groupId: j.groupId, kind: j.state, done: j.done, total: j.total, ...(j.error !== undefined ? { error: j.error } : {}), at: at() })
  if (j.state === prev) return
  const what = `job ${shortId(j.id)} (${j.kind}, group ${shortId(j.groupId)})`
  if (j.state === 'running') d.log.info({ job: j.id, group: j.groupId, total: j.total }, `${what} running`)
  else if (j.state === 'done') d.log.info({ job: j.id, group: j.groupId, done: j.done }, `${what} done: ${j.done} items`)
  else if (j.state === 'failed') d.log.warn({ job: j.id, group: j.groupId, err: j.error }, `${what} failed: ${j.error ?? ''}`)
  else if (j.state === 'queued' && prev === 'running') d.log.info({ job: j.id, group: j.groupId, done: j.done, total: j.total }, `${what} paused at ${j.done}/${j.total}; it resumes at the next unlock`)
}

/** A holder's person must learn that someone waits for them; a requester sees its unseal move. */
export function wireCircleActivity (d: ActivityDeps, circles: CircleService): void {
  circles.approvals.onChange(v => {
    d.emit({ type: 'share-request', groupId: v.groupId, id: v.id, kind: v.state, entityId: v.from, at: at() })
    if (v.state === 'pending') {
      d.log.info({ groupId: v.groupId, from: v.from, requestId: v.id, expiresAt: v.expiresAt },
        `a share request waits for your approval: \`cairn circle approve ${v.id}\` or \`cairn circle deny ${v.id}\` (see \`cairn circle requests\`)`)
    } else d.log.info({ groupId: v.groupId, from: v.from, requestId: v.id }, `share request ${v.state}`)
  })
  const told = new Set<string>()
  circles.onUnsealProgress(p => {
    d.emit({ type: 'unseal', groupId: p.groupId, kind: p.state, collected: p.collected, needed: p.needed, at: at() })
    for (const h of p.holders) {
      const key = `${p.groupId}/${p.startedAt}/${h.entityId}`
      if (h.state === 'waiting' && !told.has(key)) {
        told.add(key)
        d.log.info({ groupId: p.groupId, holder: h.entityId, until: h.waitingUntil, collected: p.collected, needed: p.needed }, 'unseal waits for a holder\'s person to approve')
      }
    }
    if (p.state !== 'pending') {
      for (const k of told) if (k.startsWith(`${p.groupId}/`)) told.delete(k)
      d.log.info({ groupId: p.groupId, collected: p.collected, needed: p.needed, approved: p.approved, denied: p.denied, noAnswer: p.noAnswer }, `unseal ${p.state}`)
    }
  })
}

/** Which Ed25519 the node uses, in an operator's words (the start-up log, `cairn doctor`). */
export function ed25519Words (ed: Ed25519State): string {
  if (ed.chosen === true) return 'Ed25519 on OpenSSL (crypto.ed25519 = "openssl"): signatures are made and checked about half as fast as with libsodium'
  if (ed.whyNot !== undefined) return `libsodium could not be used (${ed.whyNot}): signatures are checked with OpenSSL, about half as fast; reinstall with npm ci to get sodium-native's addon`
  return 'Ed25519 on libsodium (sodium-native)'
}

/** At start: the Ed25519 in use, when it is not libsodium (info when chosen in config, a warning for a fallback). */
export function logEd25519 (log: Logger, ed: Ed25519State): void {
  if (ed.chosen === true) log.info({ ed25519: ed.name }, ed25519Words(ed))
  else if (ed.whyNot !== undefined) log.warn({ ed25519: ed.name, reason: ed.whyNot }, ed25519Words(ed))
}
