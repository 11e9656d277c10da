/**
 * The invitee's side of an invitation (docs/MEMBERSHIP.md): what this node
 * keeps of a group before its entity consented — one `invites` row, nothing of
 * the group itself — and the signed answer it sends back.
 *
 * Limits (a stranger who knows an entity ID must not fill its node):
 *   maxPendingPerInviter  open invitations from one inviter       (beyond: too-many-from-inviter)
 *   maxPending            open invitations in total               (beyond: inbox-full)
 *   perHourPerPeer        invitations per delivering peer and hour (beyond: rate-limited)
 *   the record            ≤ 2 KiB, a valid signed `invite` naming this entity, open, unexpired
 * Each stored invitation is one audit entry; refusals are counted by reason and
 * audited in aggregate by the caller (never one entry per refusal).
 */
import { equalBytes } from '../crypto/bytes.js'
import { clockWall } from '../crypto/hlc.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import { openInviteName, signAnswer, type InviteBody } from '../records/invite.js'
import { decodeRecord, fromStore, hasKind, type DecodedRecord } from '../records/record.js'
import type { Role } from '../records/descriptor.js'
import type { InviteRow } from '../store/membership-store.js'
import { CairnError } from '../util/errors.js'
import { RateLimiter } from '../util/rate-limit.js'
import { requireVault } from './access.js'
import type { GroupContext } from './context.js'

export interface InboxOptions {
  /** Entity IDs whose invitations are accepted without asking (membership.auto_accept). */
  autoAccept: readonly string[]
  maxPending: number
  maxPendingPerInviter: number
  perHourPerPeer: number
  now?: () => number
}

export interface InviteView {
  id: string, groupId: GroupId, name: string | null, from: string, role: Role, circle: boolean
  createdAt: string, expiresAt: string, membershipExpiresAt: string | null, state: InviteRow['state']
}

export type OfferStatus = 'pending' | 'accepted' | 'declined' | 'refused'
export interface OfferAnswer { status: OfferStatus, reason?: string, answer?: Uint8Array }

const MAX_INVITE_BYTES = 2048
const MAX_HINTS = 8

export class InviteInbox {
  private readonly limiter: RateLimiter
  private readonly listeners: Array<(e: { kind: 'received' | 'answered' | 'removed', invite: InviteView, answer?: Uint8Array }) => void> = []

  constructor (private readonly ctx: GroupContext, private readonly o: InboxOptions) {
    this.limiter = new RateLimiter({ burst: o.perHourPerPeer, perHour: o.perHourPerPeer, maxKeys: 10_000, ...(o.now !== undefined ? { now: o.now } : {}) })
  }

  /** A stored invitation, an answer to send, an invitation gone (revoked, expired). */
  onChange (fn: (e: { kind: 'received' | 'answered' | 'removed', invite: InviteView, answer?: Uint8Array }) => void): void { this.listeners.push(fn) }

  private get m (): GroupContext['store']['membership'] { return this.ctx.store.membership }
  private now (): number { return (this.o.now ?? Date.now)() }

  private refusals = new Map<string, number>()
  private flushTimer: NodeJS.Timeout | undefined

  /** An invitation delivered by `peer` (/cairn/invite/1.0.0). Never throws for bad input: it answers `refused`. */
  offer (bytes: Uint8Array, peer: string, hints: string[]): OfferAnswer {
    const a = this.judge(bytes, peer, hints)
    if (a.status === 'refused') this.countRefusal(a.reason ?? 'refused')
    return a
  }

  /** Refusals go to the audit log in aggregate, one entry per 5 s at most: a flood cannot flood the log. */
  private countRefusal (reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1)
    if (this.flushTimer !== undefined) return
    this.flushTimer = setTimeout(() => { this.flushRefusals() }, 5000)
    this.flushTimer.unref()
  }

  flushRefusals (): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    if (this.refusals.size === 0) return
    this.ctx.audit.record('invites-refused', Object.fromEntries(this.refusals))
    this.refusals = new Map()
  }

  private judge (bytes: Uint8Array, peer: string, hints: string[]): OfferAnswer {
    const vault = this.ctx.vault
    if (vault === undefined) return { status: 'refused', reason: 'keeper' }
    if (!vault.unlocked) return { status: 'refused', reason: 'locked' }
    if (bytes.length > MAX_INVITE_BYTES) return { status: 'refused', reason: 'malformed' }
    let r: DecodedRecord
    try { r = decodeRecord(bytes) } catch { return { status: 'refused', reason: 'malformed' } }
    if (!hasKind(r, 'invite')) return { status: 'refused', reason: 'malformed' }
    const me = vault.entityKey()
    if (!equalBytes(r.rec.b.to, me.publicKey)) return { status: 'refused', reason: 'not-for-us' }
    const id = Buffer.from(r.hash).toString('hex')
    const known = this.m.invite(id)
    if (known !== undefined) return { status: known.state, ...(known.answer !== null ? { answer: new Uint8Array(known.answer) } : {}) }
    // Holding the group is not being in it: a removed member's node keeps what it had, and may be invited back.
    const held = this.ctx.registry.chain(r.groupId)?.current()
    if (held !== undefined && held.m.some(([p]) => equalBytes(p, me.publicKey))) return { status: 'refused', reason: 'already-member' }
    // A revocation (or a renewal) replaces every earlier invitation to the group.
    const earlier = this.m.invitesOf(r.groupId).filter(x => x.state === 'pending')
    if (r.rec.b.st === 'revoked') {
      // Only the inviter's own revocation counts: without the group's chain this node cannot tell who else administers it.
      for (const e of earlier) if (equalBytes(e.inviter, r.rec.s)) this.remove(e, 'revoked')
      return { status: 'declined', reason: 'revoked' }
    }
    if (r.rec.b.ie <= this.now() || clockWall(r.rec.c) > this.now() + 300_000) return { status: 'refused', reason: 'expired' }
    if (!this.limiter.take(peer)) return { status: 'refused', reason: 'rate-limited' }
    if (this.m.countPendingFrom(r.rec.s) - earlier.filter(e => equalBytes(e.inviter, r.rec.s)).length >= this.o.maxPendingPerInviter) return { status: 'refused', reason: 'too-many-from-inviter' }
    if (this.m.countPending() - earlier.length >= this.o.maxPending) return { status: 'refused', reason: 'inbox-full' }
    const row: InviteRow<GroupId> = {
      id, gid: r.groupId, inviter: Buffer.from(r.rec.s), role: r.rec.b.role, circle: r.rec.b.cir ? 1 : 0, received: this.now(), expires: r.rec.b.ie,
      state: 'pending', record: Buffer.from(bytes), answer: null, answered: null, delivered: null,
      hints: JSON.stringify([...new Set([peer, ...hints.filter(h => typeof h === 'string' && h.length <= 128)])].slice(0, MAX_HINTS))
    }
    this.ctx.store.tx(() => {
      for (const e of earlier) this.m.deleteInvite(e.id)
      this.m.putInvite(row)
    })
    const view = this.viewOf(row)
    this.ctx.audit.record('invite-received', { groupId: r.groupId, inviteId: id, from: r.signer, role: row.role, circle: row.circle === 1, peer })
    for (const l of this.listeners) l({ kind: 'received', invite: view })
    if (this.o.autoAccept.includes(r.signer)) {
      const answer = this.answer(id, true, 'auto')
      return { status: 'accepted', answer }
    }
    return { status: 'pending' }
  }

  list (): InviteView[] { return this.m.pendingInvites().map(r => this.viewOf(r)) }

  accept (id: string): { groupId: GroupId, state: 'active' } {
    const row = this.pending(id)
    this.answer(row.id, true, 'person')
    return { groupId: row.gid, state: 'active' }
  }

  decline (id: string): { groupId: GroupId, state: 'declined' } {
    const row = this.pending(id)
    this.answer(row.id, false, 'person')
    return { groupId: row.gid, state: 'declined' }
  }

  /** Did this node's entity accept an invitation to the group (adoption asks)? */
  accepted (gid: GroupId): boolean { return this.m.hasAccepted(gid) }

  /** Answers signed here that no node of the group has confirmed yet, with where to send them. */
  undelivered (): Array<{ id: string, groupId: GroupId, answer: Uint8Array, peers: string[], expires: number }> {
    return this.m.undeliveredAnswers().map(r => ({ id: r.id, groupId: r.gid, answer: new Uint8Array(r.answer!), peers: JSON.parse(r.hints) as string[], expires: r.expires }))
  }

  /** A node of the group stored our answer (or, `landed` false, none ever will): stop sending it; a declined row goes away now. */
  delivered (id: string, landed = true): void {
    const row = this.m.invite(id)
    if (row === undefined) return
    if (!landed) this.ctx.audit.record('answer-undeliverable', { groupId: row.gid, inviteId: id, state: row.state })
    if (row.state === 'declined') { this.m.deleteInvite(id); return }
    this.m.putInvite({ ...row, delivered: this.now() })
  }

  /** Invitations past their expiry (not accepted) go; run from the maintenance timer. */
  expire (): number {
    const ids = this.m.expiredInvites(this.now())
    for (const id of ids) { const row = this.m.invite(id); if (row !== undefined) this.remove(row, 'expired') }
    return ids.length
  }

  private pending (id: string): InviteRow<GroupId> {
    requireVault(this.ctx)
    const row = typeof id === 'string' && /^[0-9a-f]{64}$/.test(id) ? this.m.invite(id) : undefined
    if (row === undefined) throw new CairnError('NOT_FOUND', `no invitation ${String(id).slice(0, 80)} (see \`cairn invites\`)`)
    if (row.state !== 'pending') throw new CairnError('CONFLICT', `invitation ${id} was already ${row.state}`)
    if (row.expires <= this.now()) throw new CairnError('CONFLICT', `invitation ${id} expired at ${new Date(row.expires).toISOString()}; ask for a new one`)
    return row
  }

  private answer (id: string, accept: boolean, by: 'person' | 'auto'): Uint8Array {
    const row = this.m.invite(id)!
    const vault = requireVault(this.ctx)
    const inv = storedInvite(row)
    const a = signAnswer(vault.entityKey(), row.gid, this.ctx.clock.tick(), inv, accept)
    const next: InviteRow<GroupId> = { ...row, state: accept ? 'accepted' : 'declined', answer: Buffer.from(a.bytes), answered: this.now(), delivered: null }
    this.m.putInvite(next)
    this.ctx.audit.record(accept ? (by === 'auto' ? 'invite-auto-accepted' : 'invite-accepted') : 'invite-declined', { groupId: row.gid, inviteId: id, from: entityIdFromPublicKey(row.inviter) })
    for (const l of this.listeners) l({ kind: 'answered', invite: this.viewOf(next), answer: a.bytes })
    return a.bytes
  }

  private remove (row: InviteRow<GroupId>, why: 'revoked' | 'expired'): void {
    this.m.deleteInvite(row.id)
    this.ctx.audit.record(why === 'revoked' ? 'invite-revoked' : 'invite-expired', { groupId: row.gid, inviteId: row.id, from: entityIdFromPublicKey(row.inviter) })
    for (const l of this.listeners) l({ kind: 'removed', invite: this.viewOf(row) })
  }

  private viewOf (row: InviteRow<GroupId>): InviteView {
    const inv = storedInvite(row)
    let name: string | null = null
    const v = this.ctx.vault
    if (v?.unlocked === true) { try { name = openInviteName(inv, v.entityKey().seed, v.entityKey().publicKey) } catch { name = null } }
    return {
      id: row.id, groupId: row.gid, name, from: entityIdFromPublicKey(row.inviter), role: row.role as Role, circle: row.circle === 1,
      createdAt: new Date(row.received).toISOString(), expiresAt: new Date(row.expires).toISOString(),
      membershipExpiresAt: inv.rec.b.me > 0 ? new Date(inv.rec.b.me).toISOString() : null, state: row.state
    }
  }
}

/** The invitation of a row, read back (its hash is the row's ID). */
function storedInvite (row: InviteRow<GroupId>): DecodedRecord<InviteBody> {
  return fromStore({ bytes: row.record, hash: Buffer.from(row.id, 'hex') }, 'invite')
}
