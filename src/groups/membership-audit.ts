/**
 * Audit entries for membership changes this node did not make: every
 * descriptor version that arrives from a peer (push, sync, delivery,
 * recovery) is compared with the version before it, and each change is
 * recorded with who signed it. Changes made here are recorded by the
 * operation that made them (group-service.ts, circle-service.ts), with the
 * same kinds, so the log reads the same whoever changed the group.
 *
 * A group adopted with its whole chain records every version's changes once,
 * in version order: the node saw them all at that moment (`changedAt` is when
 * the signer made the change, the entry's own time is when this node saw it).
 */
import { toHex } from '../crypto/bytes.js'
import { clockToIso } from '../crypto/hlc.js'
import { entityIdFromPublicKey } from '../crypto/ids.js'
import type { DescBody, Role } from '../records/descriptor.js'
import type { AuditLog } from '../audit/audit-log.js'
import type { Store } from '../store/store.js'
import type { TypedEmitter } from '../util/events.js'
import type { AcceptorEvents } from './acceptor.js'
import { hasKind } from '../records/record.js'
import type { GroupRegistry } from './registry.js'

export interface MembershipChange { kind: string, data: Record<string, unknown> }

/** What changed from `prev` (undefined: the group's first version) to `next`, signed by `signer`. Pure. */
export function descriptorChanges (prev: DescBody | undefined, next: DescBody, signer: Uint8Array): MembershipChange[] {
  const signerHex = toHex(signer)
  const out: MembershipChange[] = []
  const before = new Map<string, Role>((prev?.m ?? []).map(([p, r]) => [toHex(p), r]))
  const after = new Map<string, Role>(next.m.map(([p, r]) => [toHex(p), r]))
  const entity = (hex: string): string => entityIdFromPublicKey(Buffer.from(hex, 'hex'))
  if (prev === undefined) out.push({ kind: 'group-created', data: { culture: next.cul, appendOnly: next.ao, circle: next.circle !== undefined } })
  for (const [hex, role] of after) {
    const was = before.get(hex)
    // The creator of a group is not "added" to it; everyone else in version 1 (a circle's members) is.
    if (was === undefined && !(prev === undefined && hex === signerHex)) out.push({ kind: 'member-added', data: { entityId: entity(hex), role } })
    else if (was !== undefined && was !== role) out.push({ kind: 'member-role-changed', data: { entityId: entity(hex), role, from: was } })
  }
  for (const [hex, role] of before) if (!after.has(hex)) out.push({ kind: 'member-removed', data: { entityId: entity(hex), role } })
  const kb = new Set(prev?.k ?? [])
  const ka = new Set(next.k)
  for (const k of ka) if (!kb.has(k)) out.push({ kind: 'keeper-added', data: { peerId: k } })
  for (const k of kb) if (!ka.has(k)) out.push({ kind: 'keeper-removed', data: { peerId: k } })
  if (prev !== undefined && next.kv !== prev.kv) out.push({ kind: 'key-rotated', data: { keyVersion: next.kv } })
  return out
}

/**
 * The entries to record for one accepted descriptor from a peer: one
 * `descriptor-accepted`, then one per change, each naming the group, the
 * version, its signer and how it arrived.
 */
export function remoteDescriptorEntries (groupId: string, prev: DescBody | undefined, next: DescBody, signerPub: Uint8Array, clock: number, origin: string): MembershipChange[] {
  const common = { groupId, descriptorVersion: next.ver, by: entityIdFromPublicKey(signerPub), changedAt: clockToIso(clock), origin }
  return [
    { kind: 'descriptor-accepted', data: common },
    ...descriptorChanges(prev, next, signerPub).map(c => ({ kind: c.kind, data: { ...common, ...c.data } }))
  ]
}

/** Record every descriptor accepted from a peer (wired once by node/services.ts). */
export function auditRemoteDescriptors (o: { events: TypedEmitter<AcceptorEvents>, registry: GroupRegistry, audit: AuditLog, store: Store }): void {
  o.events.on('stored', ({ record, origin }) => {
    if (!hasKind(record, 'desc') || origin === 'local') return
    const d = record
    const prev = d.rec.b.ver > 1 ? o.registry.chain(d.groupId)?.version(d.rec.b.ver - 1)?.rec.b : undefined
    const entries = remoteDescriptorEntries(d.groupId, prev, d.rec.b, d.rec.s, d.rec.c, origin)
    o.store.tx(() => { for (const e of entries) o.audit.record(e.kind, e.data) })
  })
}
