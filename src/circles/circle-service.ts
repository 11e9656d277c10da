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
import type { Culture, DescBody, Role } from '../records/descriptor.js'
import { canAdmin, sealName, signDescriptor, sortMembers } from '../records/descriptor.js'
import { sealKeyEnvelope } from '../records/key-envelope.js'
import { openShareEnvelope, sealShareEnvelope, shareEnvelopeId, type ShareBody } from '../records/share-envelope.js'
import { fromStore, type VerifiedRecord } from '../records/record.js'
import { CairnError, InvalidInputError } from '../util/errors.js'
import type { JobRunner } from '../jobs/job-runner.js'
import { requireChain, requireRole, requireVault } from '../groups/access.js'
import type { GroupContext } from '../groups/context.js'
import type { GroupService, GroupView } from '../groups/group-service.js'
import { roleIn, type DescriptorChain } from '../groups/descriptor-chain.js'
import type { ApprovalQueue } from './approvals.js'
import { combineChecked, commitment, keyCheckValue, shareX, splitKey } from './shamir.js'
import type { HolderAnswer, ShareGrant, ShareRequest } from './share-protocol.js'
import type { UnsealedKeys } from './unsealed-keys.js'

export type Approval = 'auto' | 'manual'

export interface ShareNet {
  /** Peer IDs known to serve an entity (hello bindings, bind records of the group). */
  peersOf: (gid: string, entity: Uint8Array) => string[]
  request: (peer: string, gid: string, kv: number, holder: Uint8Array) => Promise<ShareGrant>
}

export interface CircleOptions { defaultTtlMs: number, requestTimeoutMs: number, defaultApproval: Approval }

export interface UnsealResult { groupId: string, keyVersion: number, sharesCollected: number, threshold: number, from: string[], expiresAt: string, badShares: Array<{ entityId: string }> }

interface HolderOutcome { entityId: string, pub: Uint8Array, grant?: ShareGrant, reason?: string }

export class CircleService {
  private net: ShareNet | undefined

  constructor (private readonly ctx: GroupContext, private readonly groups: GroupService, private readonly jobs: JobRunner,
    readonly keys: UnsealedKeys, readonly approvals: ApprovalQueue, private readonly o: CircleOptions) {}

  attachNetwork (net: ShareNet): void { this.net = net }

  isCircle (gid: string): boolean { return this.ctx.registry.chain(gid)?.current().circle !== undefined }

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
        this.publishShares(gid, 1, 1, members.map(([p]) => p), shares)
        for (const [p] of members) this.accept(sealKeyEnvelope(me, gid, this.ctx.clock.tick(), 0, p, metaKey))
      })
    } finally {
      zeroize(key, metaKey, ...shares)
    }
    this.setApproval(gid, inp.approval ?? this.o.defaultApproval)
    this.ctx.audit.record('circle-created', { groupId: gid, threshold: k, members: n, keyVersion: 1 })
    return this.groups.view(gid)
  }

  private publishShares (gid: GroupId, kv: number, sv: number, pubs: Uint8Array[], shares: Uint8Array[]): void {
    const me = requireVault(this.ctx).entityKey()
    pubs.forEach((p, i) => this.accept(sealShareEnvelope(me, gid, this.ctx.clock.tick(), kv, sv, p, shareX(shares[i]!), shares[i]!)))
  }

  private accept (r: VerifiedRecord): void {
    const [res] = this.ctx.acceptor.ingest([r], 'local')
    if (res?.status === 'rejected') throw new CairnError('INTERNAL', `a circle record was refused (${res.reason ?? ''})`)
  }

  // ---- approval policy ----

  approval (gid: string): Approval {
    const v = this.ctx.store.getMeta(`circle-approval:${gid}`)
    return v === 'manual' || v === 'auto' ? v : this.o.defaultApproval
  }

  setApproval (gid: string, policy: Approval): Approval {
    if (policy !== 'auto' && policy !== 'manual') throw new InvalidInputError('policy must be auto or manual')
    this.ctx.store.putMeta(`circle-approval:${gid}`, policy)
    this.ctx.audit.record('share-policy-set', { groupId: gid, policy })
    return policy
  }

  // ---- unseal / seal ----

  async unseal (gid: string, ttlSeconds?: number): Promise<UnsealResult> {
    const { chain } = requireRole(this.ctx, gid, 'read')
    const d = chain.current()
    if (d.circle === undefined) throw new CairnError('CONFLICT', 'this group is not a circle; its key is in your vault already')
    const ttlMs = (ttlSeconds ?? this.o.defaultTtlMs / 1000) * 1000
    // The current key, and any older version still encrypting live items.
    const versions = [d.kv, ...this.liveOldVersions(gid, d.kv)]
    let first: UnsealResult | undefined
    const refused: Array<{ entityId: string, reason?: string }> = []
    for (const kv of versions) {
      const r = await this.collect(chain, gid, kv, ttlMs, refused)
      first ??= r
    }
    // One entry per unseal (who answered, who did not): one fsync, not one per share.
    this.ctx.audit.recordSoon('circle-unsealed', { groupId: gid, keyVersions: versions, from: first!.from, refused, expiresAt: first!.expiresAt })
    this.jobs.resume()
    return first!
  }

  seal (gid: string): { sealed: boolean } {
    requireRole(this.ctx, gid, 'read')
    const sealed = this.keys.seal(gid)
    if (sealed) this.ctx.audit.recordSoon('circle-sealed', { groupId: gid, reason: 'requested' })
    return { sealed }
  }

  private liveOldVersions (gid: string, current: number): number[] {
    const out: number[] = []
    for (let kv = 1; kv < current; kv++) if (this.ctx.store.countItemsWithKv(gid, kv) > 0) out.push(kv)
    return out
  }

  private async collect (chain: DescriptorChain, gid: string, kv: number, ttlMs: number, refusedOut: Array<{ entityId: string, reason?: string }>): Promise<UnsealResult> {
    const me = requireVault(this.ctx).entityKey()
    const kvDesc = latestWithKv(chain, kv)
    if (kvDesc?.circle === undefined) throw new CairnError('NOT_FOUND', `no circle key version ${kv}`)
    const th = kvDesc.circle.th
    const holders = kvDesc.circle.com.map(([pub]) => pub)
    const outcomes: HolderOutcome[] = []
    const good = new Map<number, HolderOutcome[]>() // by split version
    const bad: HolderOutcome[] = []
    let settle!: () => void
    const enough = new Promise<void>(resolve => { settle = resolve })
    let open = holders.length
    let finished = false
    const consider = (h: HolderOutcome): void => {
      if (finished) { if (h.grant !== undefined) zeroize(h.grant.share); return }
      outcomes.push(h)
      if (h.grant !== undefined) {
        if (this.checkShare(chain, gid, kv, h)) {
          const list = good.get(h.grant.sv) ?? []
          list.push(h)
          good.set(h.grant.sv, list)
          if (list.length >= th) settle()
        } else {
          bad.push(h)
          this.ctx.audit.recordSoon('share-bad', { groupId: gid, keyVersion: kv, holder: h.entityId })
          h.reason = 'bad-share'
        }
      }
      if (--open === 0) settle()
    }
    for (const pub of holders) {
      const entityId = entityIdFromPublicKey(pub)
      if (equalBytes(pub, me.publicKey)) {
        const own = this.ownShare(gid, kv)
        consider({ entityId, pub, ...(own !== undefined ? { grant: own } : { reason: 'no-share' }) })
        continue
      }
      void this.askHolder(gid, kv, pub).then(
        grant => { consider({ entityId, pub, grant }) },
        (e: unknown) => { consider({ entityId, pub, reason: reasonOf(e) }) }
      )
    }
    await enough
    finished = true
    const best = [...good.entries()].sort((a, b) => b[0] - a[0]).find(([, l]) => l.length >= th)
    if (best === undefined) {
      const answered = Math.max(0, ...[...good.values()].map(l => l.length))
      for (const o of outcomes) if (o.grant !== undefined) zeroize(o.grant.share)
      this.ctx.audit.record('unseal-failed', { groupId: gid, keyVersion: kv, collected: answered, threshold: th, refused: outcomes.filter(o => o.reason !== undefined).map(o => ({ entityId: o.entityId, reason: o.reason })) })
      const code = bad.length > 0 && answered + bad.length >= th ? 'BAD_SHARE' : 'INSUFFICIENT_SHARES'
      throw new CairnError(code, `collected ${answered} of ${th} shares needed for key version ${kv}${bad.length > 0 ? `; bad shares from ${bad.map(b => b.entityId).join(', ')}` : ''}`, {
        collected: answered, threshold: th, keyVersion: kv,
        refused: outcomes.filter(o => o.reason !== undefined && o.reason !== 'bad-share').map(o => ({ entityId: o.entityId, reason: o.reason })),
        badShares: bad.map(b => ({ entityId: b.entityId }))
      })
    }
    for (const o of outcomes) if (o.reason !== undefined) refusedOut.push({ entityId: o.entityId, reason: o.reason })
    const chosen = best[1].slice(0, th)
    const kcv = kvDesc.circle.kcv
    const key = await combineChecked(chosen.map(h => h.grant!.share), gid, kv, kcv)
    for (const o of outcomes) if (o.grant !== undefined) zeroize(o.grant.share)
    if (key === undefined) throw new CairnError('BAD_SHARE', 'the shares passed their commitments but did not rebuild the key (the circle descriptor may be corrupt)')
    const expiresAt = this.keys.put(gid, kv, key, ttlMs)
    zeroize(key)
    return {
      groupId: gid, keyVersion: kv, sharesCollected: chosen.length, threshold: th, from: chosen.map(h => h.entityId),
      expiresAt: new Date(expiresAt).toISOString(), badShares: bad.map(b => ({ entityId: b.entityId }))
    }
  }

  /** A share must match the commitment of its split version for its holder. */
  private checkShare (chain: DescriptorChain, gid: string, kv: number, h: HolderOutcome): boolean {
    const g = h.grant!
    const d = chain.version(g.sv)?.rec.b
    if (d?.circle === undefined || d.kv !== kv) return false
    const entry = d.circle.com.find(([p]) => equalBytes(p, h.pub))
    return entry !== undefined && entry[1] === g.x && shareX(g.share) === g.x && equalBytes(entry[2], commitment(gid, kv, g.sv, h.pub, g.share))
  }

  private async askHolder (gid: string, kv: number, holder: Uint8Array): Promise<ShareGrant> {
    if (this.net === undefined) throw new CairnError('UNAVAILABLE', 'networking is not running', { reason: 'offline' })
    const peers = this.net.peersOf(gid, holder)
    if (peers.length === 0) throw new CairnError('UNAVAILABLE', 'no known node', { reason: 'unreachable' })
    let last: unknown
    for (const p of peers) {
      try {
        return await this.net.request(p, gid, kv, holder)
      } catch (e) { last = e }
    }
    throw last
  }

  /** This node's own share of (gid, kv), opened with the entity key. */
  ownShare (gid: string, kv: number): ShareGrant | undefined {
    const vault = requireVault(this.ctx)
    const me = vault.entityKey()
    const row = this.ctx.store.getHead(gid, shareEnvelopeId(gid as GroupId, kv, me.publicKey))
    if (row === undefined) return undefined
    try {
      const r = fromStore(row, 'share')
      return { x: r.rec.b.x, sv: r.rec.b.sv, share: openShareEnvelope(r, me.seed, me.publicKey) }
    } catch { return undefined }
  }

  // ---- holder side ----

  /** Decide on an admitted, signed, fresh request (share-protocol.ts did those checks). */
  async decide (gid: string, q: ShareRequest, peer: string, gone?: AbortSignal): Promise<HolderAnswer> {
    const chain = this.ctx.registry.chain(gid)
    const d = chain?.current()
    const from = entityIdFromPublicKey(q.e)
    if (d?.circle === undefined) return { ok: false, reason: 'not-found' }
    if (roleIn(d, q.e) === undefined) return { ok: false, reason: 'not-a-member' }
    if (q.kv > d.kv) return { ok: false, reason: 'no-share' }
    if (this.approval(gid) === 'manual') {
      this.ctx.audit.recordSoon('share-request-pending', { groupId: gid, keyVersion: q.kv, from, peer })
      const w = this.approvals.wait({ groupId: gid, from, peerId: peer, keyVersion: q.kv }, this.o.requestTimeoutMs)
      // The requester may give up first: then the request ends here too.
      const onGone = (): void => { this.approvals.decide(w.id, 'expired') }
      gone?.addEventListener('abort', onGone, { once: true })
      const decision = await w.decision
      gone?.removeEventListener('abort', onGone)
      if (decision !== 'approved') return { ok: false, reason: decision === 'denied' ? 'denied' : 'approval-timeout' }
      if (gone?.aborted === true) return { ok: false, reason: 'requester-gone' }
    }
    const own = this.ownShare(gid, q.kv)
    if (own === undefined) return { ok: false, reason: 'no-share' }
    this.ctx.audit.recordSoon('share-released', { groupId: gid, keyVersion: q.kv, to: from, peer, policy: this.approval(gid) })
    return { ok: true, grant: own }
  }

  refused (gid: string | undefined, q: ShareRequest | undefined, peer: string, reason: string): void {
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

  async addMember (gid: string, entityId: string, role: string): Promise<GroupView> {
    const { chain, role: myRole } = requireRole(this.ctx, gid, 'admin')
    const pub = publicKeyFromEntityId(entityId)
    const d = chain.current()
    if (role !== 'member' && role !== 'admin' && role !== 'viewer') throw new InvalidInputError('a circle member is admin, member or viewer')
    if (role === 'admin' && myRole !== 'owner') throw new CairnError('FORBIDDEN', 'only an owner can add an admin')
    if (roleIn(d, pub) !== undefined) throw new CairnError('CONFLICT', `${entityId} is already a member of this circle`)
    if (d.m.length >= 255) throw new CairnError('CONFLICT', 'a circle holds at most 255 members')
    const key = this.unsealedKey(gid, d.kv)
    const members = sortMembers([...d.m, [pub, role as Role]])
    const sv = d.ver + 1
    const shares = await splitKey(key, members.length, d.circle!.th)
    try {
      this.ctx.store.tx(() => {
        this.groups.publishDescriptor(chain, { m: members, circle: { th: d.circle!.th, kcv: d.circle!.kcv, com: members.map(([p], i) => [p, shareX(shares[i]!), commitment(gid, d.kv, sv, p, shares[i]!)]) } })
        this.publishShares(gid as GroupId, d.kv, sv, members.map(([p]) => p), shares)
        const meta = this.groups.keyFor(gid, 0)
        this.accept(sealKeyEnvelope(requireVault(this.ctx).entityKey(), gid as GroupId, this.ctx.clock.tick(), 0, pub, meta))
      })
    } finally { zeroize(...shares) }
    this.ctx.audit.record('circle-member-added', { groupId: gid, entityId, role, threshold: d.circle!.th, members: members.length, descriptorVersion: sv })
    return this.groups.view(gid)
  }

  async removeMember (gid: string, entityId: string): Promise<GroupView & { jobId: string }> {
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
        this.publishShares(gid as GroupId, kv, sv, members.map(([p]) => p), shares)
      })
      // The new key lives exactly as long as the unseal it was made under: no longer.
      this.keys.put(gid, kv, key, Math.max(1000, (this.keys.expiresAt(gid) ?? Date.now() + this.o.defaultTtlMs) - Date.now()))
    } finally { zeroize(key, ...shares) }
    const job = this.jobs.submit('reencrypt', gid, { keyVersion: kv })
    this.ctx.audit.record('circle-member-removed', { groupId: gid, entityId, keyVersion: kv, descriptorVersion: sv, jobId: job.id })
    return { ...this.groups.view(gid), jobId: job.id }
  }

  private unsealedKey (gid: string, kv: number): Uint8Array {
    requireChain(this.ctx, gid)
    const k = this.keys.get(gid, kv)
    if (k === undefined) throw new CairnError('CIRCLE_SEALED', 'the circle is sealed: unseal it first (POST /api/v1/groups/:gid/unseal or `cairn circle unseal`)')
    return k
  }

  describe (gid: string): { approval: Approval, unsealed: boolean, expiresAt: string | null } {
    const exp = this.keys.expiresAt(gid)
    return { approval: this.approval(gid), unsealed: exp !== undefined, expiresAt: exp !== undefined ? new Date(exp).toISOString() : null }
  }
}

function latestWithKv (chain: DescriptorChain, kv: number): DescBody | undefined {
  let out: DescBody | undefined
  for (const v of chain.all()) if (v.rec.b.kv === kv) out = v.rec.b
  return out
}

function reasonOf (e: unknown): string {
  const r = (e as CairnError)?.details?.reason
  return typeof r === 'string' ? r : (e as Error)?.message?.slice(0, 64) ?? 'error'
}
