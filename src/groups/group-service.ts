/**
 * Group lifecycle on a member node: create, list, view, membership, keepers and
 * key rotation. Every change is a new descriptor version signed by the caller,
 * accepted through the same Acceptor as a received record, plus the key
 * envelopes it implies. Roles are checked on every call (groups/access.ts).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes } from '../crypto/bytes.js'
import { randomBytes } from '../crypto/hash.js'
import { entityIdFromPublicKey, newGroupId, publicKeyFromEntityId, type EntityId, type GroupId } from '../crypto/ids.js'
import { zeroize } from '../crypto/bytes.js'
import { CULTURES, ROLES, canAdmin, openName, sealName, signDescriptor, type Culture, type DescBody, type Role } from '../records/descriptor.js'
import { openKeyEnvelope, sealKeyEnvelope, type KeyBody } from '../records/key-envelope.js'
import { signVaultBackup, type VaultBody } from '../records/vault-backup.js'
import { fromStore, type DecodedRecord, type VerifiedRecord } from '../records/record.js'
import { CairnError, InvalidInputError } from '../util/errors.js'
import type { JobRunner, JobView } from '../jobs/job-runner.js'
import { requireChain, requireRole, requireVault } from './access.js'
import type { GroupContext } from './context.js'
import { roleIn, type DescriptorChain } from './descriptor-chain.js'

export interface GroupSummary {
  id: GroupId, name: string | null, culture: Culture, role: Role | 'keeper', keyVersion: number,
  memberCount: number, keeperCount: number, itemCount: number, appendOnly: boolean, personal: boolean, circle: boolean
}

export interface GroupView {
  id: GroupId, name: string | null, culture: Culture, appendOnly: boolean, personal: boolean,
  descriptorVersion: number, keyVersion: number, role: Role | 'keeper',
  members: Array<{ entityId: EntityId, role: Role }>, keepers: string[],
  circle?: { threshold: number, members: EntityId[], approval?: string, unsealed?: boolean, expiresAt?: string | null, pendingUnseal?: { collected: number, needed: number, waiting: string[], deadline: string } }
}

export interface CreateGroupInput { name: string, culture?: Culture, appendOnly?: boolean }

export const MAX_NAME = 200

/** Circle behaviour plugged in by circles/ (groups/ does not import it). */
export interface CircleHooks {
  key: (gid: GroupId, kv: number) => Uint8Array | undefined
  addMember: (gid: GroupId, entityId: string, role: string) => Promise<GroupView>
  removeMember: (gid: GroupId, entityId: string) => Promise<GroupView & { jobId: string }>
  describe: (gid: GroupId) => { approval: string, unsealed: boolean, expiresAt: string | null, pendingUnseal?: { collected: number, needed: number, waiting: string[], deadline: string } }
}

export class GroupService {
  private circles: CircleHooks | undefined

  constructor (private readonly ctx: GroupContext, private readonly jobs: JobRunner) {}

  setCircleHooks (h: CircleHooks): void { this.circles = h }

  /** Add a member to any group: circles re-split their key, other groups wrap their keys. */
  async addAnyMember (gid: GroupId, entityId: string, role: string): Promise<GroupView> {
    if (this.isCircle(gid) && this.circles !== undefined) return await this.circles.addMember(gid, entityId, role)
    return this.addMember(gid, entityId, role)
  }

  async removeAnyMember (gid: GroupId, entityId: string): Promise<GroupView & { jobId: string }> {
    if (this.isCircle(gid) && this.circles !== undefined) return await this.circles.removeMember(gid, entityId)
    return this.removeMember(gid, entityId)
  }

  isCircle (gid: GroupId): boolean { return this.ctx.registry.chain(gid)?.current().circle !== undefined }

  create (inp: CreateGroupInput, personal = false): GroupView {
    const vault = requireVault(this.ctx)
    const name = checkName(inp.name)
    const culture = inp.culture ?? 'chatty'
    if (!(CULTURES as readonly string[]).includes(culture)) throw new InvalidInputError(`culture must be one of ${CULTURES.join(', ')}`)
    if (this.ctx.store.listGroups().length >= this.ctx.limits.maxGroups) throw new CairnError('LIMIT_REACHED', `this node already holds ${this.ctx.limits.maxGroups} groups (limits.max_groups)`)
    const gid = personal ? vault.personalGroupId() : newGroupId()
    const key = randomBytes(32)
    vault.addKey(gid, 1, key)
    const me = vault.entityKey()
    const d = signDescriptor(me, gid, this.ctx.clock.tick(), {
      ver: 1, p: new Uint8Array(0), cul: culture, ao: inp.appendOnly === true, kv: 1,
      m: [[me.publicKey, 'owner']], k: [], nm: sealName(gid, 1, key, name), nkv: 1
    })
    zeroize(key)
    const [res] = this.ctx.acceptor.ingest([d], 'local')
    if (res?.status !== 'stored') throw new CairnError('INTERNAL', `could not store the new group (${res?.reason ?? res?.status ?? ''})`)
    this.ctx.audit.record('group-created', { groupId: gid, descriptorVersion: 1, culture, appendOnly: inp.appendOnly === true, personal })
    return this.view(gid)
  }

  list (): GroupSummary[] {
    const out: GroupSummary[] = []
    for (const g of this.ctx.store.listGroups()) {
      const chain = this.ctx.registry.chain(g.gid)
      if (chain === undefined) continue
      const d = chain.current()
      const role = this.myRole(d)
      if (role === undefined) continue
      out.push({
        id: g.gid, name: this.nameOf(g.gid, d), culture: d.cul, role, keyVersion: d.kv,
        memberCount: d.m.length, keeperCount: d.k.length, itemCount: this.ctx.store.countLive(g.gid, 'item'),
        appendOnly: d.ao, personal: this.isPersonal(g.gid), circle: d.circle !== undefined
      })
    }
    return out
  }

  view (gid: GroupId): GroupView {
    const chain = requireChain(this.ctx, gid)
    const d = chain.current()
    const role = this.myRole(d)
    if (role === undefined) throw new CairnError('NOT_FOUND', `no group ${gid} on this node`)
    const members = chain.members().map(({ entityId, role }) => ({ entityId, role }))
    return {
      id: gid, name: this.nameOf(gid, d), culture: d.cul, appendOnly: d.ao, personal: this.isPersonal(gid),
      descriptorVersion: d.ver, keyVersion: d.kv, role, members, keepers: [...d.k],
      ...(d.circle !== undefined ? { circle: { threshold: d.circle.th, members: d.circle.com.map(([p]) => entityIdFromPublicKey(p)), ...(this.circles?.describe(gid) ?? {}) } } : {})
    }
  }

  /** A group key by version: the vault's ring, or for a circle the unsealed key. */
  keyFor (gid: GroupId, kv: number): Uint8Array {
    const vault = requireVault(this.ctx)
    if (kv > 0 && this.isCircle(gid)) {
      const k = this.circles?.key(gid, kv)
      if (k === undefined) throw new CairnError('CIRCLE_SEALED', 'this circle is sealed: unseal it (POST /api/v1/groups/:gid/unseal or `cairn circle unseal`) to read or write')
      return k
    }
    const key = vault.ring(gid)?.get(kv)
    if (key === undefined) throw new CairnError('VAULT_LOCKED', `this node has no key version ${kv} for group ${gid} (not received yet, or not entitled)`)
    return key
  }

  addMember (gid: GroupId, entityId: string, role: string): GroupView {
    const { chain, role: myRole } = requireRole(this.ctx, gid, 'admin')
    const pub = publicKeyFromEntityId(entityId)
    if (!(ROLES as readonly string[]).includes(role)) throw new InvalidInputError(`role must be one of ${ROLES.join(', ')}`)
    const r = role as Role
    if (this.isPersonal(gid)) throw new CairnError('FORBIDDEN', 'the personal group holds only you and your keepers; create a shared group to share')
    const d = chain.current()
    if (d.circle !== undefined) throw new CairnError('IS_A_CIRCLE', 'this is a circle: change its members with the circle membership calls')
    const current = roleIn(d, pub)
    if (current === r) throw new CairnError('CONFLICT', `${entityId} is already a ${r} of this group`)
    if (myRole !== 'owner' && (r === 'owner' || r === 'admin' || current === 'owner' || current === 'admin')) throw new CairnError('FORBIDDEN', 'only an owner can grant or change owner/admin roles')
    const m = d.m.filter(([p]) => !equalBytes(p, pub))
    m.push([pub, r])
    this.publishDescriptor(chain, { m })
    if (current === undefined) this.wrapAllKeysFor(gid, pub)
    this.ctx.audit.record(current === undefined ? 'member-added' : 'member-role-changed', { groupId: gid, entityId, role: r, ...(current !== undefined ? { from: current } : {}), descriptorVersion: d.ver + 1 })
    return this.view(gid)
  }

  removeMember (gid: GroupId, entityId: string): GroupView & { jobId: string } {
    const { chain, role: myRole } = requireRole(this.ctx, gid, 'admin')
    const pub = publicKeyFromEntityId(entityId)
    const d = chain.current()
    const current = roleIn(d, pub)
    if (current === undefined) throw new CairnError('NOT_FOUND', `${entityId} is not a member of this group`)
    if (d.circle !== undefined) throw new CairnError('IS_A_CIRCLE', 'this is a circle: change its members with the circle membership calls')
    if (canAdmin(current) && myRole !== 'owner') throw new CairnError('FORBIDDEN', 'only an owner can remove an owner or admin')
    if (current === 'owner' && d.m.filter(([, r]) => r === 'owner').length === 1) throw new CairnError('CONFLICT', 'cannot remove the last owner of a group')
    // The new key would have to be handed out by someone no longer in the group (found by the HTTP fuzz: a 500).
    if (equalBytes(pub, requireVault(this.ctx).entityKey().publicKey)) throw new CairnError('CONFLICT', 'you cannot remove yourself: leave the group instead (cairn group leave), or have another admin remove you')
    const job = this.rotateWith(gid, chain, d.m.filter(([p]) => !equalBytes(p, pub)))
    this.ctx.audit.record('member-removed', { groupId: gid, entityId, role: current, descriptorVersion: d.ver + 1, keyVersion: d.kv + 1, jobId: job.id })
    return { ...this.view(gid), jobId: job.id }
  }

  rotate (gid: GroupId): JobView {
    const { chain } = requireRole(this.ctx, gid, 'admin')
    if (chain.current().circle !== undefined) throw new CairnError('IS_A_CIRCLE', 'circle keys rotate when their members change (the circle calls)')
    return this.rotateWith(gid, chain, chain.current().m)
  }

  addKeeper (gid: GroupId, peerId: string): GroupView {
    const { chain } = requireRole(this.ctx, gid, 'admin')
    checkPeerId(peerId)
    const d = chain.current()
    if (d.k.includes(peerId)) throw new CairnError('CONFLICT', `${peerId} is already a keeper of this group`)
    this.publishDescriptor(chain, { k: [...d.k, peerId] })
    this.ctx.audit.record('keeper-added', { groupId: gid, peerId, descriptorVersion: d.ver + 1 })
    return this.view(gid)
  }

  removeKeeper (gid: GroupId, peerId: string): GroupView {
    const { chain } = requireRole(this.ctx, gid, 'admin')
    const d = chain.current()
    if (!d.k.includes(peerId)) throw new CairnError('NOT_FOUND', `${peerId} is not a keeper of this group`)
    this.publishDescriptor(chain, { k: d.k.filter(k => k !== peerId) })
    this.ctx.audit.record('keeper-removed', { groupId: gid, peerId, descriptorVersion: d.ver + 1 })
    return this.view(gid)
  }

  /** Open key envelopes addressed to this entity and add their keys to the vault. */
  absorbKeyEnvelopes (gid?: GroupId): number {
    const vault = this.ctx.vault
    if (vault === undefined || !vault.unlocked) return 0
    let n = 0
    for (const g of gid !== undefined ? [gid] : this.ctx.store.listGroups().map(r => r.gid)) {
      for (const row of this.ctx.store.allOfKind(g, 'key')) {
        if (this.absorbKeyEnvelope(fromStore(row, 'key'))) n++
      }
    }
    return n
  }

  absorbKeyEnvelope (r: DecodedRecord<KeyBody>): boolean {
    const vault = this.ctx.vault
    if (vault === undefined || !vault.unlocked) return false
    const me = vault.entityKey()
    if (!equalBytes(r.rec.b.to, me.publicKey) || vault.ring(r.groupId)?.has(r.rec.b.kv) === true) return false
    let key: Uint8Array
    try {
      key = openKeyEnvelope(r, me.seed, me.publicKey)
    } catch {
      this.ctx.audit.record('key-envelope-unreadable', { groupId: r.groupId, keyVersion: r.rec.b.kv, from: r.signer })
      return false
    }
    vault.addKey(r.groupId, r.rec.b.kv, key)
    zeroize(key)
    this.ctx.audit.record('key-received', { groupId: r.groupId, keyVersion: r.rec.b.kv, from: r.signer })
    return true
  }

  /**
   * Back up the sealed vault (default: as it is now) into the personal group,
   * where keepers store it and cannot open it; once the personal group is held.
   */
  backupVault (body: VaultBody | undefined = this.ctx.vault?.unlocked === true ? this.ctx.vault.sealed() : undefined): void {
    const vault = this.ctx.vault
    if (body === undefined || vault === undefined || !vault.unlocked) return
    const pg = vault.personalGroupId()
    if (!this.ctx.registry.has(pg)) return
    this.ctx.acceptor.ingest([signVaultBackup(vault.entityKey(), pg, this.ctx.clock.tick(), body)], 'local')
  }

  isPersonal (gid: GroupId): boolean {
    const v = this.ctx.vault
    return v !== undefined && v.unlocked && v.personalGroupId() === gid
  }

  private myRole (d: DescBody): Role | 'keeper' | undefined {
    const v = this.ctx.vault
    if (v === undefined) return 'keeper'
    if (!v.unlocked) return undefined
    return roleIn(d, v.entityKey().publicKey)
  }

  private nameOf (gid: GroupId, d: DescBody): string | null {
    const key = this.ctx.vault?.unlocked === true ? this.ctx.vault.ring(gid)?.get(d.nkv) : undefined
    if (key === undefined || d.nm.length === 0) return null
    try { return openName(gid, d.nkv, key, d.nm) } catch { return null }
  }

  /** Sign and accept the next descriptor version with `changes` applied. */
  publishDescriptor (chain: DescriptorChain, changes: Partial<DescBody>): VerifiedRecord<DescBody> {
    const vault = requireVault(this.ctx)
    const head = chain.head()
    const gid = head.groupId
    const body: DescBody = { ...head.rec.b, ...changes, ver: head.rec.b.ver + 1, p: head.hash }
    const kvKey = vault.ring(gid)?.get(body.kv)
    if (kvKey !== undefined && body.circle === undefined && changes.nm === undefined) {
      const name = this.nameOf(gid, head.rec.b)
      if (name !== null) { body.nm = sealName(gid, body.kv, kvKey, name); body.nkv = body.kv }
    }
    const d = signDescriptor(vault.entityKey(), gid, this.ctx.clock.tick(), body)
    const [res] = this.ctx.acceptor.ingest([d], 'local')
    if (res?.status !== 'stored') throw new CairnError('CONCURRENT_CHANGE', `the group changed concurrently (${res?.reason ?? res?.status ?? ''}); retry`, { reason: res?.reason ?? res?.status })
    return d
  }

  private rotateWith (gid: GroupId, chain: DescriptorChain, members: DescBody['m']): JobView {
    const vault = requireVault(this.ctx)
    const d = chain.current()
    const kv = d.kv + 1
    const key = randomBytes(32)
    vault.addKey(gid, kv, key)
    zeroize(key)
    this.publishDescriptor(chain, { m: members, kv })
    for (const [pub] of members) this.wrapKeyFor(gid, kv, pub)
    this.ctx.audit.record('key-rotated', { groupId: gid, keyVersion: kv, descriptorVersion: d.ver + 1 })
    return this.jobs.submit('reencrypt', gid, { keyVersion: kv })
  }

  private wrapKeyFor (gid: GroupId, kv: number, pub: Uint8Array): void {
    const vault = requireVault(this.ctx)
    const env = sealKeyEnvelope(vault.entityKey(), gid, this.ctx.clock.tick(), kv, pub, this.keyFor(gid, kv))
    const [res] = this.ctx.acceptor.ingest([env], 'local')
    if (res?.status === 'rejected') throw new CairnError('INTERNAL', `key envelope refused (${res.reason ?? ''})`)
  }

  /** A new member gets every key version, so it can read the group's history. */
  private wrapAllKeysFor (gid: GroupId, pub: Uint8Array): void {
    const ring = requireVault(this.ctx).ring(gid)
    for (const e of ring?.list() ?? []) this.wrapKeyFor(gid, e.version, pub)
  }
}

function checkName (name: unknown): string {
  if (typeof name !== 'string' || name.trim().length === 0) throw new InvalidInputError('name must be a non-empty string')
  if (name.length > MAX_NAME) throw new InvalidInputError(`name must be at most ${MAX_NAME} characters`)
  return name
}

export function checkPeerId (peerId: unknown): string {
  if (typeof peerId !== 'string' || peerId.length > 128) throw new InvalidInputError('peerId must be a libp2p peer ID string')
  try { peerIdFromString(peerId) } catch { throw new InvalidInputError(`not a libp2p peer ID: ${peerId.slice(0, 80)}`) }
  return peerId
}

