/**
 * The membership life cycle on a member node (docs/MEMBERSHIP.md): invitations
 * an admin sends and completes, leaving, deleting a group, and what every node
 * does when a group ends. The invitee's side is invite-inbox.ts.
 *
 *   invite    an `invite` record; the descriptor does not change until consent
 *   complete  an `answer` accepting it is stored: the inviter's node (any admin's
 *             after `completeAfterMs`) adds the member and wraps every key
 *             version for it (a circle: releases its held-back share)
 *   decline   an `answer` refusing it: the member drops from the list (a circle:
 *             its held share is deleted and the next descriptor drops it)
 *   leave     a `leave` record, handed to the group's peers, then this node ends
 *             the group; the lead admin's node removes the member (new key version)
 *   delete    a `gdel` record; every node that stores it ends the group
 *   end       purge (store.purgeGroup: the bytes gone from the files), shred the
 *             keys, keep the tombstone (never adopted again; 410 once deleted)
 *
 * Nothing here talks to the network: the hooks tell node/ what to hand to whom.
 */
import { equalBytes } from '../crypto/bytes.js'
import { clockWall } from '../crypto/hlc.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import { canAdmin, type Role } from '../records/descriptor.js'
import { signGroupDeletion, signLeave } from '../records/departure.js'
import { answerId, inviteId, signInvite, type AnswerBody, type InviteBody } from '../records/invite.js'
import { fromStore, hasKind, type DecodedRecord, type VerifiedRecord } from '../records/record.js'
import type { EndedGroupRow } from '../store/membership-store.js'
import { CairnError } from '../util/errors.js'
import { requireRole, requireVault } from './access.js'
import type { GroupContext } from './context.js'
import { roleIn, type DescriptorChain } from './descriptor-chain.js'
import type { GroupService, MemberView } from './group-service.js'
import type { RejectReason } from './reject-reason.js'

export interface MembershipOptions {
  /** How long an invitation stays open, ms. */
  invitationTtlMs: number
  /** After this long, any admin's node completes what the responsible node has not, ms. */
  completeAfterMs: number
  now?: () => number
}

export interface MembershipEvents {
  /** Hand these records to the group's keepers and members' nodes before the group goes (a leave, a deletion). */
  ending: (gid: GroupId, proof: Uint8Array, to: { keepers: string[], members: Uint8Array[] }) => void
  /** A member was added (or its circle share released): deliver the group to its node now. */
  joined: (gid: GroupId, entityId: string) => void
  /** The group ended here: drop it from the search index, the gossip topics, the unsealed keys. */
  ended: (gid: GroupId, reason: EndedGroupRow['reason']) => void
}

/** What a circle does on completion (circles/ plugs it in: groups/ does not import it). */
export interface CircleMembership {
  release: (gid: GroupId, member: Uint8Array) => boolean
  drop: (gid: GroupId, member: Uint8Array) => void
}

/** Was the invitee added to the group after this invitation (then removed, or left)? Its consent was used up. */
function admitted (chain: DescriptorChain, inv: DecodedRecord<InviteBody>): boolean {
  return chain.all().some(v => v.rec.c > inv.rec.c && roleIn(v.rec.b, inv.rec.b.to) !== undefined)
}

/** A listed member's state: a circle lists every holder from the start, invited until its consent is in. */
function listedState (circle: boolean, creator: Uint8Array | undefined, pub: Uint8Array, inv: DecodedRecord<InviteBody> | undefined, ans: DecodedRecord<AnswerBody> | undefined): MemberView['state'] | undefined {
  if (!circle || inv === undefined || (creator !== undefined && equalBytes(creator, pub))) return 'active'
  const answered = ans !== undefined && equalBytes(ans.rec.b.inv, inv.hash)
  if (answered) return ans.rec.b.acc ? 'active' : undefined // declined: dropped from the list
  return inv.rec.b.st === 'open' ? 'invited' : undefined // revoked
}

export class MembershipService {
  private events: MembershipEvents | undefined
  private circles: CircleMembership | undefined

  constructor (private readonly ctx: GroupContext, private readonly groups: GroupService, private readonly o: MembershipOptions) {}

  setEvents (e: MembershipEvents): void { this.events = e }
  setCircleMembership (c: CircleMembership): void { this.circles = c }

  private now (): number { return (this.o.now ?? Date.now)() }

  // ---- inviting ----

  /** An invitation for `pub` (ordinary groups, and each holder of a new circle). */
  invite (gid: GroupId, pub: Uint8Array, role: Role, o: { expiresAt?: number, circle?: boolean } = {}): VerifiedRecord<InviteBody> {
    const vault = requireVault(this.ctx)
    const chain = this.ctx.registry.chain(gid)!
    const view = this.groups.view(gid)
    const r = signInvite(vault.entityKey(), {
      groupId: gid, clock: this.ctx.clock.tick(), to: pub, role, state: 'open',
      expiresAt: this.now() + this.o.invitationTtlMs, memberExpiresAt: o.expiresAt ?? 0,
      circle: o.circle ?? chain.current().circle !== undefined, name: view.name ?? ''
    })
    const [res] = this.ctx.acceptor.ingest([r], 'local')
    if (res?.status !== 'stored') throw new CairnError('CONFLICT', `the invitation was not stored (${res?.reason ?? res?.status ?? ''})`)
    this.ctx.audit.record('invite-sent', { groupId: gid, to: entityIdFromPublicKey(pub), role, inviteId: Buffer.from(r.hash).toString('hex'), ...(o.expiresAt !== undefined ? { membershipExpiresAt: new Date(o.expiresAt).toISOString() } : {}) })
    return r
  }

  /**
   * Revoke an open invitation: a later version of it. For a member not yet in the
   * descriptor this is the whole revocation; a member removed has its invitation
   * revoked too, so an old acceptance can never bring it back.
   */
  revoke (gid: GroupId, pub: Uint8Array): boolean {
    const inv = this.inviteOf(gid, pub)
    if (inv === undefined || inv.rec.b.st !== 'open') return false
    const { role } = requireRole(this.ctx, gid, 'admin')
    if (canAdmin(inv.rec.b.role) && role !== 'owner') throw new CairnError('FORBIDDEN', 'only an owner can revoke an invitation to an owner or admin')
    const b = inv.rec.b
    const r = signInvite(requireVault(this.ctx).entityKey(), {
      groupId: gid, clock: this.ctx.clock.tick(), to: b.to, role: b.role, state: 'revoked', expiresAt: b.ie, memberExpiresAt: b.me, circle: b.cir, name: ''
    })
    this.ctx.acceptor.ingest([r], 'local')
    this.ctx.audit.record('invite-revoked', { groupId: gid, to: entityIdFromPublicKey(b.to) })
    return true
  }

  /** Members for the API: active ones from the descriptor, invited ones from open invitations. */
  members (gid: GroupId, chain: DescriptorChain): MemberView[] {
    const d = chain.current()
    const creator = chain.version(1)?.rec.s
    const invites = new Map<string, DecodedRecord<InviteBody>>()
    for (const row of this.ctx.store.allOfKind(gid, 'invite')) { const r = fromStore(row, 'invite'); invites.set(Buffer.from(r.rec.b.to).toString('hex'), r) }
    const answers = new Map<string, DecodedRecord<AnswerBody>>()
    for (const row of this.ctx.store.allOfKind(gid, 'answer')) { const r = fromStore(row, 'answer'); answers.set(Buffer.from(r.rec.s).toString('hex'), r) }
    const out: MemberView[] = []
    const expiry = (pub: Uint8Array): { expiresAt?: string } => {
      const e = d.mx?.find(([p]) => equalBytes(p, pub))
      return e !== undefined ? { expiresAt: new Date(e[1]).toISOString() } : {}
    }
    for (const [pub, role] of d.m) {
      const key = Buffer.from(pub).toString('hex')
      const state = listedState(d.circle !== undefined, creator, pub, invites.get(key), answers.get(key))
      if (state !== undefined) out.push({ entityId: entityIdFromPublicKey(pub), role, state, ...expiry(pub) })
    }
    if (d.circle === undefined) {
      for (const [key, inv] of invites) {
        const b = inv.rec.b
        if (b.st !== 'open' || roleIn(d, b.to) !== undefined || b.ie <= this.now() || admitted(chain, inv)) continue
        const ans = answers.get(key)
        if (ans !== undefined && equalBytes(ans.rec.b.inv, inv.hash) && !ans.rec.b.acc) continue // declined
        out.push({ entityId: entityIdFromPublicKey(b.to), role: b.role, state: 'invited', ...(b.me > 0 ? { expiresAt: new Date(b.me).toISOString() } : {}) })
      }
    }
    return out
  }

  /**
   * One listed member's state as `members` gives it (undefined: not in the descriptor,
   * or dropped from the list), from its own invitation and answer: two lookups, where
   * `members` reads every invitation of the group. The circle share path asks this
   * for every holder of every unseal.
   */
  memberState (gid: GroupId, chain: DescriptorChain, pub: Uint8Array): MemberView['state'] | undefined {
    const d = chain.current()
    if (roleIn(d, pub) === undefined) return undefined
    if (d.circle === undefined) return 'active'
    return listedState(true, chain.version(1)?.rec.s, pub, this.inviteOf(gid, pub), this.answerOf(gid, pub))
  }

  // ---- what stored records set off (the `membership` effect) ----

  stored (r: DecodedRecord): void {
    if (hasKind(r, 'answer')) this.completeAnswer(r)
    else if (hasKind(r, 'leave')) this.removeLeaver(r.groupId, r.rec.s, clockWall(r.rec.c))
  }

  /**
   * Everything this node should complete and has not (an answer it stored while
   * locked or before it was responsible; a leaver still listed): run at unlock and
   * from the maintenance timer.
   */
  sweep (): void {
    const v = this.ctx.vault
    if (v === undefined || !v.unlocked) return
    for (const gid of this.ctx.registry.groupIds()) {
      const chain = this.ctx.registry.chain(gid)
      if (chain === undefined || !canAdmin(roleIn(chain.current(), v.entityKey().publicKey))) continue
      for (const row of this.ctx.store.allOfKind(gid, 'answer')) this.completeAnswer(fromStore(row, 'answer'))
      for (const row of this.ctx.store.allOfKind(gid, 'leave')) this.removeLeaver(gid, row.signer, clockWall(row.clock))
    }
  }

  private completeAnswer (r: DecodedRecord<AnswerBody>): void {
    const v = this.ctx.vault
    const chain = this.ctx.registry.chain(r.groupId)
    if (v === undefined || !v.unlocked || chain === undefined) return
    const me = v.entityKey().publicKey
    const d = chain.current()
    if (!canAdmin(roleIn(d, me))) return
    const inv = this.inviteOf(r.groupId, r.rec.s)
    if (inv === undefined || !equalBytes(inv.hash, r.rec.b.inv) || inv.rec.b.st !== 'open' || (d.circle === undefined && admitted(chain, inv))) return
    if (!this.responsible(inv.rec.s, me, clockWall(r.rec.c))) return
    const gid = r.groupId
    const entityId = entityIdFromPublicKey(r.rec.s)
    try {
      if (d.circle !== undefined) {
        if (!r.rec.b.acc) { if (roleIn(d, r.rec.s) !== undefined) this.circles?.drop(gid, r.rec.s); return }
        if (this.circles?.release(gid, r.rec.s) === true) this.events?.joined(gid, entityId)
        return
      }
      if (!r.rec.b.acc || roleIn(d, r.rec.s) !== undefined) return
      if (canAdmin(inv.rec.b.role) && roleIn(d, me) !== 'owner') return
      // Accepted after the membership it offered had ended: adding it would hand over keys for nothing.
      if (inv.rec.b.me > 0 && inv.rec.b.me <= this.now()) { this.ctx.audit.record('invite-membership-over', { groupId: gid, entityId }); return }
      this.groups.admit(gid, r.rec.s, inv.rec.b.role, inv.rec.b.me)
      this.ctx.audit.record('invite-completed', { groupId: gid, entityId, answer: Buffer.from(r.hash).toString('hex') })
      this.events?.joined(gid, entityId)
    } catch (e) {
      // Another admin's node got there first (descriptor fork), or the vault locked: the sweep retries.
      this.ctx.audit.record('invite-completion-failed', { groupId: gid, entityId, reason: (e as CairnError).code ?? 'error' })
    }
  }

  /** The node that signed the invitation completes it at once; any admin's node after completeAfterMs. */
  private responsible (inviter: Uint8Array, me: Uint8Array, at: number): boolean {
    return equalBytes(inviter, me) || this.now() - at > this.o.completeAfterMs
  }

  private removeLeaver (gid: GroupId, pub: Uint8Array, at: number): void {
    const v = this.ctx.vault
    const chain = this.ctx.registry.chain(gid)
    if (v === undefined || !v.unlocked || chain === undefined) return
    const d = chain.current()
    const me = v.entityKey().publicKey
    if (roleIn(d, pub) === undefined || !canAdmin(roleIn(d, me))) return
    // The lead admin (first owner/admin by key, the leaver aside) removes it; others if it has not within completeAfterMs.
    const lead = d.m.filter(([p, role]) => canAdmin(role) && !equalBytes(p, pub))[0]?.[0]
    if (lead === undefined || (!equalBytes(lead, me) && this.now() - at <= this.o.completeAfterMs)) return
    void this.groups.removeAnyMember(gid, entityIdFromPublicKey(pub)).then(
      () => { this.ctx.audit.record('member-left', { groupId: gid, entityId: entityIdFromPublicKey(pub) }) },
      (e: unknown) => { this.ctx.audit.record('member-left-pending', { groupId: gid, entityId: entityIdFromPublicKey(pub), reason: (e as CairnError).code ?? 'error' }) }
    )
  }

  private inviteOf (gid: GroupId, pub: Uint8Array): DecodedRecord<InviteBody> | undefined {
    const row = this.ctx.store.getHead(gid, inviteId(gid, pub))
    return row === undefined ? undefined : fromStore(row, 'invite')
  }

  /** The answer this group holds from `pub`, if any. */
  answerOf (gid: GroupId, pub: Uint8Array): DecodedRecord<AnswerBody> | undefined {
    const row = this.ctx.store.getHead(gid, answerId(gid, pub))
    return row === undefined ? undefined : fromStore(row, 'answer')
  }

  // ---- time-limited membership ----

  private expiryTimer: NodeJS.Timeout | undefined
  private readonly expiring = new Set<string>()

  /**
   * A timer for the nearest membership expiry this node's entity enforces (it
   * administers the group): the lead admin at the expiry itself, the others
   * completeAfterMs later if the member is still listed. Re-armed after every
   * descriptor and run; nobody has to be online to click.
   */
  armExpiry (): void {
    this.expiryStopped = false
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer)
    this.expiryTimer = undefined
    let next = Infinity
    for (const e of this.dueExpiries(Infinity)) next = Math.min(next, e.at)
    if (next === Infinity) return
    this.expiryTimer = setTimeout(() => { this.expireDue(); this.armExpiry() }, Math.min(2 ** 31 - 1, Math.max(0, next - this.now())))
    this.expiryTimer.unref()
  }

  private armPending = false
  /** armExpiry once for a burst of descriptors (a catch-up stores hundreds in a row). */
  armSoon (): void {
    if (this.armPending) return
    this.armPending = true
    setImmediate(() => { this.armPending = false; if (!this.expiryStopped) this.armExpiry() })
  }

  private expiryStopped = false
  stopExpiry (): void {
    this.expiryStopped = true
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer)
    this.expiryTimer = undefined
  }

  /** Remove every member whose time is up here (a new key version each: GroupService.removeAnyMember). */
  expireDue (): void {
    for (const e of this.dueExpiries(this.now())) {
      const key = `${e.gid}/${e.entityId}`
      if (this.expiring.has(key)) continue
      this.expiring.add(key)
      void this.groups.removeAnyMember(e.gid, e.entityId).then(
        v => { this.ctx.audit.record('member-expired', { groupId: e.gid, entityId: e.entityId, keyVersion: v.keyVersion }) },
        (err: unknown) => { this.ctx.audit.record('member-expiry-pending', { groupId: e.gid, entityId: e.entityId, reason: (err as CairnError).code ?? 'error' }) }
      ).finally(() => { this.expiring.delete(key) })
    }
  }

  /** Expiries this node acts on, with when it acts (≤ until). */
  private dueExpiries (until: number): Array<{ gid: GroupId, entityId: string, at: number }> {
    const v = this.ctx.vault
    if (v === undefined || !v.unlocked) return []
    const me = v.entityKey().publicKey
    const out: Array<{ gid: GroupId, entityId: string, at: number }> = []
    for (const gid of this.ctx.registry.groupIds()) {
      const d = this.ctx.registry.chain(gid)?.current()
      if (d?.mx === undefined || !canAdmin(roleIn(d, me))) continue
      for (const [pub, at] of d.mx) {
        if (equalBytes(pub, me) || roleIn(d, pub) === undefined) continue
        const lead = d.m.filter(([p, role]) => canAdmin(role) && !equalBytes(p, pub))[0]?.[0]
        const when = lead !== undefined && equalBytes(lead, me) ? at : at + this.o.completeAfterMs
        if (when <= until) out.push({ gid, entityId: entityIdFromPublicKey(pub), at: when })
      }
    }
    return out
  }

  // ---- leaving and deleting ----

  leave (gid: GroupId): { left: true } {
    const { chain, role } = requireRole(this.ctx, gid, 'read')
    const d = chain.current()
    if (this.groups.isPersonal(gid)) throw new CairnError('FORBIDDEN', 'the personal group is yours alone: it cannot be left')
    if (d.m.length === 1) throw new CairnError('CONFLICT', 'you are the only member: delete the group instead (`cairn group delete`)')
    if (role === 'owner' && d.m.filter(([, r]) => r === 'owner').length === 1) throw new CairnError('CONFLICT', 'you are the last owner: make another member an owner first, or delete the group')
    const r = signLeave(requireVault(this.ctx).entityKey(), gid, this.ctx.clock.tick())
    const [res] = this.ctx.acceptor.ingest([r], 'local')
    if (res?.status !== 'stored') throw new CairnError('CONFLICT', `the leave was not stored (${res?.reason ?? res?.status ?? ''})`)
    // Who must hear of it is read before the purge; the proof is kept by it (the outbox sends it from there).
    const peers = this.peersOf(chain)
    this.end(gid, 'left', r.bytes)
    this.events?.ending(gid, r.bytes, peers)
    return { left: true }
  }

  deleteGroup (gid: GroupId): { deleted: true } {
    requireRole(this.ctx, gid, 'owner')
    if (this.groups.isPersonal(gid)) throw new CairnError('FORBIDDEN', 'the personal group cannot be deleted (it holds your vault backup)')
    const r = signGroupDeletion(requireVault(this.ctx).entityKey(), gid, this.ctx.clock.tick())
    const [res] = this.ctx.acceptor.ingest([r], 'local')
    if (res?.status !== 'stored') throw new CairnError('CONFLICT', `the deletion was not stored (${res?.reason ?? res?.status ?? ''})`)
    // The `group-deleted` effect of the stored record ended the group here (deleted()).
    return { deleted: true }
  }

  /** A stored `gdel` (the `group-deleted` effect), whatever its origin: hand it on, then end the group. */
  deleted (r: DecodedRecord): void {
    const chain = this.ctx.registry.chain(r.groupId)
    if (chain === undefined) return
    const peers = this.peersOf(chain)
    this.end(r.groupId, 'deleted', r.bytes)
    this.events?.ending(r.groupId, r.bytes, peers)
  }

  /** Why records of a group this node ended are refused (the Acceptor asks). */
  ended (gid: GroupId): RejectReason | undefined {
    const e = this.ctx.store.membership.ended(gid)
    return e === undefined ? undefined : e.reason === 'deleted' ? 'group-deleted' : 'left-group'
  }

  /** Purge the group (bytes, not only rows), shred its keys, keep its tombstone. */
  private end (gid: GroupId, reason: EndedGroupRow['reason'], proof: Uint8Array): void {
    const store = this.ctx.store
    const row = store.getGroup(gid)
    const removed = store.tx(() => {
      const out = store.purgeGroup(gid)
      store.upsertGroup({ gid, desc_ver: row?.desc_ver ?? 0, joined: row?.joined ?? this.now(), state: reason })
      store.membership.markEnded(gid, reason, proof)
      return out
    })
    this.ctx.registry.forget(gid)
    const v = this.ctx.vault
    // Locked: the keys go at the next unlock (shredEnded).
    if (v?.unlocked === true && v.ring(gid) !== undefined) v.shred(gid)
    this.events?.ended(gid, reason)
    this.ctx.audit.record(reason === 'deleted' ? 'group-deleted' : 'group-left', { groupId: gid, records: removed.records, bytes: removed.bytes })
  }

  /** Keys of groups that ended while the vault was locked (run at unlock). */
  shredEnded (): void {
    const v = this.ctx.vault
    if (v === undefined || !v.unlocked) return
    for (const e of this.ctx.store.membership.allEnded()) if (v.ring(e.gid) !== undefined) v.shred(e.gid)
  }

  private peersOf (chain: DescriptorChain): { keepers: string[], members: Uint8Array[] } {
    const d = chain.current()
    const me = this.ctx.vault?.unlocked === true ? this.ctx.vault.entityKey().publicKey : undefined
    return { keepers: [...d.k], members: d.m.map(([p]) => p).filter(p => me === undefined || !equalBytes(p, me)) }
  }
}
