/**
 * Circles of trust: groups whose key no node holds. The key is split K-of-N
 * among the members; a member reads or writes only after an unseal has
 * collected K shares from online holders and rebuilt the key in memory.
 *
 *   create   random key → split → share envelope per member (wrapped to it) +
 *            descriptor with threshold, key check value, one commitment per share;
 *            the creator zeroizes the key and every share
 *   unseal   own share (if a holder) + requests to every other holder in parallel;
 *            each share checked against its commitment (a bad one is set aside and
 *            its holder named), K of one split combined, the key checked against
 *            the kcv, kept until seal()/TTL
 *   add      same key re-split for N+1 (needs the circle unsealed)
 *   remove   new key version split among the rest; existing items re-encrypted
 *            by a job (needs the circle unsealed: the old key must be readable)
 * A circle's name is sealed under a metadata key (key version 0) that every member
 * holds like a group key; items are never accepted under version 0.
 */
import { equalBytes, zeroize, toHex } from '../crypto/bytes.js'
import { randomBytes } from '../crypto/hash.js'
import { entityIdFromPublicKey, newGroupId, publicKeyFromEntityId, type GroupId } from '../crypto/ids.js'
import type { Culture, Role } from '../records/descriptor.js'
import { canAdmin, sealName, signDescriptor, sortMembers } from '../records/descriptor.js'
import { sealKeyEnvelope } from '../records/key-envelope.js'
import { sealShareEnvelope } from '../records/share-envelope.js'
import { decodeRecord, type VerifiedRecord } from '../records/record.js'
import { CairnError, InvalidInputError } from '../util/errors.js'
import type { JobRunner } from '../jobs/job-runner.js'
import { requireChain, requireRole, requireVault } from '../groups/access.js'
import type { GroupContext } from '../groups/context.js'
import type { GroupService, GroupView } from '../groups/group-service.js'
import { roleIn } from '../groups/descriptor-chain.js'
import type { ApprovalQueue } from './approvals.js'
import { commitment, keyCheckValue, shareX, splitKey } from './shamir.js'
import type { HolderAnswer, ShareGrant, ShareRequest } from './share-protocol.js'
import type { UnsealedKeys } from './unsealed-keys.js'
import type { UnsealProgress } from './unseal.js'
import { decodeCanonical, encodeCanonical } from '../crypto/canonical.js'
import type { MembershipService } from '../groups/membership.js'
import { Unsealer, type PendingUnseal, type ShareNet, type UnsealResult } from './unsealer.js'

export type Approval = 'auto' | 'manual'

export type { ShareNet, UnsealResult, PendingUnseal } from './unsealer.js'

export interface CircleOptions {
  defaultTtlMs: number
  defaultApproval: Approval
  /** How long an unseal waits for people (manual holders), and a holder keeps a request for its person, ms. */
  approvalWindowMs: number
  /** How long POST …/unseal waits before answering "pending" (default), ms. */
  unsealWaitMs: number
}

export class CircleService {
  readonly unsealer: Unsealer
  private membership: MembershipService | undefined

  private readonly progressListeners: Array<(p: UnsealProgress) => void> = []

  constructor (private readonly ctx: GroupContext, private readonly groups: GroupService, private readonly jobs: JobRunner,
    readonly keys: UnsealedKeys, readonly approvals: ApprovalQueue, private readonly o: CircleOptions) {
    this.unsealer = new Unsealer(ctx, keys, { defaultTtlMs: o.defaultTtlMs, windowMs: o.approvalWindowMs }, {
      unsealed: () => { this.jobs.resume() },
      changed: p => { for (const l of this.progressListeners) l(p) }
    })
  }

  /** Every change of an unseal under way on this node (a holder answered, a person is deciding, done). */
  onUnsealProgress (fn: (p: UnsealProgress) => void): void { this.progressListeners.push(fn) }

  attachNetwork (net: ShareNet): void { this.unsealer.attachNetwork(net) }

  /** Consent (docs/MEMBERSHIP.md): holders are invited; a share leaves this node only once its holder accepted. */
  setMembership (m: MembershipService): void {
    this.membership = m
    this.unsealer.setConsent((gid, pub) => this.consented(gid, pub))
  }

  /** Has this holder consented (the creator, a holder invited before consent existed, or one whose acceptance is stored)? */
  consented (gid: GroupId, pub: Uint8Array): boolean {
    const chain = this.ctx.registry.chain(gid)
    if (chain === undefined || this.membership === undefined) return true
    return this.membership.memberState(gid, chain, pub) === 'active'
  }

  isCircle (gid: GroupId): boolean { return this.ctx.registry.chain(gid)?.current().circle !== undefined }

  // ---- create ----

  async create (inp: { name: string, threshold: number, members: string[], culture?: Culture, approval?: Approval }): Promise<GroupView> {
    const vault = requireVault(this.ctx)
    const me = vault.entityKey()
    if (typeof inp.name !== 'string' || inp.name.trim() === '' || inp.name.length > 200) throw new InvalidInputError('name must be 1 to 200 characters')
    const pubs = new Map<string, Uint8Array>([[toHex(me.publicKey), me.publicKey]])
    for (const id of inp.members ?? []) { const p = publicKeyFromEntityId(id); pubs.set(toHex(p), p) }
    const n = pubs.size
    const k = inp.threshold
    if (!Number.isInteger(k) || k < 2) throw new InvalidInputError('threshold must be at least 2 (a 1-of-N circle is an ordinary group)')
    if (n < 2 || n > 255) throw new InvalidInputError(`a circle needs 2 to 255 members including you; got ${n}`)
    if (k > n) throw new InvalidInputError(`threshold ${k} is more than the ${n} members (you are counted)`)
    const gid = newGroupId()
    const members = sortMembers([...pubs.values()].map(p => [p, equalBytes(p, me.publicKey) ? 'owner' : 'member'] as [Uint8Array, Role]))
    const metaKey = randomBytes(32)
    const key = randomBytes(32)
    const shares = await splitKey(key, n, k)
    try {
      vault.addKey(gid, 0, metaKey)
      const d = signDescriptor(me, gid, this.ctx.clock.tick(), {
        ver: 1, p: new Uint8Array(0), cul: inp.culture ?? 'chatty', ao: false, kv: 1, m: members, k: [],
        nm: sealName(gid, 0, metaKey, inp.name), nkv: 0,
        circle: { th: k, kcv: keyCheckValue(key, gid, 1), com: members.map(([p], i) => [p, shareX(shares[i]!), commitment(gid, 1, 1, p, shares[i]!)]) }
      })
      this.ctx.store.tx(() => {
        const [res] = this.ctx.acceptor.ingest([d], 'local')
        if (res?.status !== 'stored') throw new CairnError('INTERNAL', `could not store the circle (${res?.reason ?? res?.status ?? ''})`)
        const held = (p: Uint8Array): boolean => this.membership !== undefined && !equalBytes(p, me.publicKey)
        this.publishShares(gid, 1, 1, members.map(([p]) => p), shares, held, p => sealKeyEnvelope(me, gid, this.ctx.clock.tick(), 0, p, metaKey))
        for (const [p] of members) if (!held(p)) this.accept(sealKeyEnvelope(me, gid, this.ctx.clock.tick(), 0, p, metaKey))
        for (const [p, role] of members) if (held(p)) this.membership!.invite(gid, p, role, { circle: true })
      })
    } finally {
      zeroize(key, metaKey, ...shares)
    }
    this.setApproval(gid, inp.approval ?? this.o.defaultApproval)
    this.ctx.audit.record('circle-created', { groupId: gid, threshold: k, members: n, keyVersion: 1 })
    return this.groups.view(gid)
  }

  /**
   * One share envelope per holder. A holder whose consent is not in yet gets its
   * envelope (and, when it is new, its metadata key envelope) held back on this
   * node instead (`held_shares`): it replicates only when the holder accepts.
   */
  private publishShares (gid: GroupId, kv: number, sv: number, pubs: Uint8Array[], shares: Uint8Array[],
    held: (p: Uint8Array) => boolean = p => this.isHeld(gid, p), metaEnvelope?: (p: Uint8Array) => VerifiedRecord): void {
    const me = requireVault(this.ctx).entityKey()
    pubs.forEach((p, i) => {
      const env = sealShareEnvelope(me, gid, this.ctx.clock.tick(), kv, sv, p, shareX(shares[i]!), shares[i]!)
      if (!held(p)) { this.accept(env); return }
      const before = this.heldRecords(gid, p).filter(r => r.rec.t !== 'share')
      const meta = metaEnvelope !== undefined ? [metaEnvelope(p).bytes] : before.map(r => r.bytes)
      this.ctx.store.membership.holdShare(gid, p, encodeCanonical([env.bytes, ...meta]))
    })
  }

  private isHeld (gid: GroupId, p: Uint8Array): boolean { return this.ctx.store.membership.heldShare(gid, p) !== undefined }

  private heldRecords (gid: GroupId, p: Uint8Array): VerifiedRecord[] {
    const blob = this.ctx.store.membership.heldShare(gid, p)
    if (blob === undefined) return []
    const list = decodeCanonical(new Uint8Array(blob)) as Uint8Array[]
    return list.map(b => decodeRecord(b))
  }

  /** The holder accepted: its held share (and metadata key) envelopes go into the circle. */
  release (gid: GroupId, member: Uint8Array): boolean {
    const recs = this.heldRecords(gid, member)
    if (recs.length === 0) return false
    this.ctx.store.tx(() => {
      for (const r of recs) this.accept(r)
      this.ctx.store.membership.releaseShare(gid, member)
    })
    this.ctx.audit.record('circle-share-released', { groupId: gid, entityId: entityIdFromPublicKey(member) })
    return true
  }

  /** The holder declined: its share is destroyed here (it never left) and the next descriptor drops it; the split stays K of the rest. */
  drop (gid: GroupId, member: Uint8Array): void {
    const { chain } = requireRole(this.ctx, gid, 'admin')
    const d = chain.current()
    if (!this.isHeld(gid, member) || roleIn(d, member) === undefined || d.circle === undefined) return
    this.ctx.store.tx(() => {
      this.ctx.store.membership.releaseShare(gid, member)
      this.groups.publishDescriptor(chain, { m: d.m.filter(([p]) => !equalBytes(p, member)), circle: { ...d.circle!, com: d.circle!.com.filter(([p]) => !equalBytes(p, member)) } })
    })
    const left = d.m.length - 1
    this.ctx.audit.record('circle-member-declined', { groupId: gid, entityId: entityIdFromPublicKey(member), members: left, threshold: d.circle.th, ...(left < d.circle.th ? { unsealable: false } : {}) })
  }

  private accept (r: VerifiedRecord): void {
    const [res] = this.ctx.acceptor.ingest([r], 'local')
    if (res?.status === 'rejected') throw new CairnError('INTERNAL', `a circle record was refused (${res.reason ?? ''})`)
  }

  // ---- approval policy ----

  approval (gid: GroupId): Approval {
    const v = this.ctx.store.getMeta(`circle-approval:${gid}`)
    return v === 'manual' || v === 'auto' ? v : this.o.defaultApproval
  }

  setApproval (gid: GroupId, policy: Approval): Approval {
    if (policy !== 'auto' && policy !== 'manual') throw new InvalidInputError('policy must be auto or manual')
    this.ctx.store.putMeta(`circle-approval:${gid}`, policy)
    this.ctx.audit.record('share-policy-set', { groupId: gid, policy })
    return policy
  }

  // ---- unseal / seal ----

  /** See Unsealer.unseal: the result, a thrown refusal, or the progress while people decide. */
  async unseal (gid: GroupId, ttlSeconds?: number, o: { waitMs?: number } = {}): Promise<UnsealResult | PendingUnseal> {
    return await this.unsealer.unseal(gid, { ...(ttlSeconds !== undefined ? { ttlSeconds } : {}), waitMs: o.waitMs ?? this.o.unsealWaitMs })
  }

  seal (gid: GroupId): { sealed: boolean } {
    requireRole(this.ctx, gid, 'read')
    const sealed = this.keys.seal(gid)
    if (sealed) this.ctx.audit.recordSoon('circle-sealed', { groupId: gid, reason: 'requested' })
    return { sealed }
  }

  ownShare (gid: GroupId, kv: number): ShareGrant | undefined { return this.unsealer.ownShare(gid, kv) }

  // ---- holder side ----

  /** Decide on an admitted, signed, fresh request (share-protocol.ts did those checks). */
  async decide (gid: GroupId, q: ShareRequest, peer: string, gone?: AbortSignal, queued?: (until: number) => Promise<void>): Promise<HolderAnswer> {
    const chain = this.ctx.registry.chain(gid)
    const d = chain?.current()
    const from = entityIdFromPublicKey(q.e)
    if (d?.circle === undefined) return { ok: false, reason: 'not-found' }
    if (roleIn(d, q.e) === undefined) return { ok: false, reason: 'not-a-member' }
    if (!this.consented(gid, q.e)) return { ok: false, reason: 'not-accepted' }
    if (q.kv > d.kv) return { ok: false, reason: 'no-share' }
    if (this.approval(gid) === 'manual') {
      // A person decides within the shorter of the requester's patience and our window.
      const waitMs = Math.min(q.w, this.o.approvalWindowMs)
      if (waitMs <= 0) return { ok: false, reason: 'approval-timeout' }
      const w = this.approvals.wait({ groupId: gid, from, peerId: peer, keyVersion: q.kv }, waitMs)
      if (w === undefined) return { ok: false, reason: 'busy' }
      this.ctx.audit.recordSoon('share-request-pending', { groupId: gid, keyVersion: q.kv, from, peer, requestId: w.id })
      // The requester may give up first (or have enough shares already): then the request ends here too.
      const onGone = (): void => { w.leave() }
      gone?.addEventListener('abort', onGone, { once: true })
      if (gone?.aborted === true) onGone()
      try {
        await queued?.(Date.now() + waitMs)
        const decision = await w.decision
        if (decision !== 'approved') return { ok: false, reason: decision === 'denied' ? 'denied' : 'approval-timeout' }
        if (gone?.aborted === true) return { ok: false, reason: 'requester-gone' }
      } finally {
        gone?.removeEventListener('abort', onGone)
        w.leave()
      }
    }
    const own = this.ownShare(gid, q.kv)
    if (own === undefined) return { ok: false, reason: 'no-share' }
    const policy = this.approval(gid)
    // Audited as soon as the share went out: the entry's insert is not on the requester's wait.
    return { ok: true, grant: own, released: () => { this.ctx.audit.recordSoon('share-released', { groupId: gid, keyVersion: q.kv, to: from, peer, policy }) } }
  }

  refused (gid: GroupId | undefined, q: ShareRequest | undefined, peer: string, reason: string): void {
    this.ctx.audit.recordSoon('share-refused', { ...(gid !== undefined ? { groupId: gid } : {}), ...(q !== undefined ? { from: entityIdFromPublicKey(q.e), keyVersion: q.kv } : {}), peer, reason })
  }

  approve (id: string): { id: string, state: string } { return this.decideRequest(id, 'approved') }
  deny (id: string): { id: string, state: string } { return this.decideRequest(id, 'denied') }

  private decideRequest (id: string, d: 'approved' | 'denied'): { id: string, state: string } {
    const v = this.approvals.get(id)
    if (v === undefined) throw new CairnError('NOT_FOUND', `no share request ${String(id).slice(0, 64)}`)
    if (v.state !== 'pending') throw new CairnError('CONFLICT', `share request ${id} is already ${v.state}`)
    this.approvals.decide(id, d)
    this.ctx.audit.record(d === 'approved' ? 'share-request-approved' : 'share-request-denied', { groupId: v.groupId, from: v.from, requestId: id })
    return { id, state: d }
  }

  // ---- membership ----

  async addMember (gid: GroupId, entityId: string, role: string): Promise<GroupView> {
    const { chain, role: myRole } = requireRole(this.ctx, gid, 'admin')
    const pub = publicKeyFromEntityId(entityId)
    const d = chain.current()
    if (role !== 'member' && role !== 'admin' && role !== 'viewer') throw new InvalidInputError('a circle member is admin, member or viewer')
    if (role === 'admin' && myRole !== 'owner') throw new CairnError('FORBIDDEN', 'only an owner can add an admin')
    if (roleIn(d, pub) !== undefined) throw new CairnError('CONFLICT', `${entityId} is already a member of this circle`)
    if (d.m.length >= 255) throw new CairnError('LIMIT_REACHED', 'a circle holds at most 255 members')
    const key = this.unsealedKey(gid, d.kv)
    const members = sortMembers([...d.m, [pub, role as Role]])
    const sv = d.ver + 1
    const shares = await splitKey(key, members.length, d.circle!.th)
    try {
      this.ctx.store.tx(() => {
        this.groups.publishDescriptor(chain, { m: members, circle: { th: d.circle!.th, kcv: d.circle!.kcv, com: members.map(([p], i) => [p, shareX(shares[i]!), commitment(gid, d.kv, sv, p, shares[i]!)]) } })
        const meta = this.groups.keyFor(gid, 0)
        const metaFor = (p: Uint8Array): VerifiedRecord => sealKeyEnvelope(requireVault(this.ctx).entityKey(), gid, this.ctx.clock.tick(), 0, p, meta)
        if (this.membership === undefined) {
          this.publishShares(gid, d.kv, sv, members.map(([p]) => p), shares)
          this.accept(metaFor(pub))
        } else {
          // The new holder is invited: its share waits here; a holder still invited keeps waiting too.
          const held = (p: Uint8Array): boolean => equalBytes(p, pub) || this.isHeld(gid, p)
          this.publishShares(gid, d.kv, sv, members.map(([p]) => p), shares, held, p => equalBytes(p, pub) ? metaFor(p) : this.heldRecords(gid, p).find(r => r.rec.t === 'key') ?? metaFor(p))
          this.membership.invite(gid, pub, role as Role, { circle: true })
        }
      })
    } finally { zeroize(...shares) }
    this.ctx.audit.record('circle-member-added', { groupId: gid, entityId, role, threshold: d.circle!.th, members: members.length, descriptorVersion: sv })
    return this.groups.view(gid)
  }

  async removeMember (gid: GroupId, entityId: string): Promise<GroupView & { jobId: string }> {
    const { chain, role: myRole } = requireRole(this.ctx, gid, 'admin')
    const pub = publicKeyFromEntityId(entityId)
    const d = chain.current()
    const current = roleIn(d, pub)
    if (current === undefined) throw new CairnError('NOT_FOUND', `${entityId} is not a member of this circle`)
    if (canAdmin(current) && myRole !== 'owner') throw new CairnError('FORBIDDEN', 'only an owner can remove an owner or admin')
    if (current === 'owner' && d.m.filter(([, r]) => r === 'owner').length === 1) throw new CairnError('CONFLICT', 'cannot remove the last owner of a circle')
    const members = d.m.filter(([p]) => !equalBytes(p, pub))
    if (members.length < d.circle!.th) throw new CairnError('CONFLICT', `removing ${entityId} would leave ${members.length} members for a threshold of ${d.circle!.th}`)
    this.unsealedKey(gid, d.kv) // the old key must be readable for re-encryption
    const kv = d.kv + 1
    const sv = d.ver + 1
    const key = randomBytes(32)
    const shares = await splitKey(key, members.length, d.circle!.th)
    try {
      this.ctx.store.tx(() => {
        this.groups.publishDescriptor(chain, { m: members, kv, circle: { th: d.circle!.th, kcv: keyCheckValue(key, gid, kv), com: members.map(([p], i) => [p, shareX(shares[i]!), commitment(gid, kv, sv, p, shares[i]!)]) } })
        this.publishShares(gid, kv, sv, members.map(([p]) => p), shares)
      })
      // The new key lives exactly as long as the unseal it was made under: no longer.
      // One `now` for the TTL and its expiry: read twice, a millisecond between them extended the unseal.
      const now = Date.now()
      this.keys.put(gid, kv, key, Math.max(1000, (this.keys.expiresAt(gid) ?? now + this.o.defaultTtlMs) - now), now)
    } finally { zeroize(key, ...shares) }
    const job = this.jobs.submit('reencrypt', gid, { keyVersion: kv })
    this.ctx.audit.record('circle-member-removed', { groupId: gid, entityId, keyVersion: kv, descriptorVersion: sv, jobId: job.id })
    return { ...this.groups.view(gid), jobId: job.id }
  }

  private unsealedKey (gid: GroupId, kv: number): Uint8Array {
    requireChain(this.ctx, gid)
    const k = this.keys.get(gid, kv)
    if (k === undefined) throw new CairnError('CIRCLE_SEALED', 'the circle is sealed: unseal it first (POST /api/v1/groups/:gid/unseal or `cairn circle unseal`)')
    return k
  }

  describe (gid: GroupId): { approval: Approval, unsealed: boolean, expiresAt: string | null, pendingUnseal?: { collected: number, needed: number, waiting: string[], deadline: string } } {
    const exp = this.keys.expiresAt(gid)
    const p = this.unsealer.pending(gid)
    return {
      approval: this.approval(gid), unsealed: exp !== undefined, expiresAt: exp !== undefined ? new Date(exp).toISOString() : null,
      ...(p !== undefined ? { pendingUnseal: { collected: p.collected, needed: p.needed, waiting: p.waiting, deadline: p.deadline } } : {})
    }
  }
}
