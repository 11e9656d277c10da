/**
 * Builds the local services of a node (no network) and wires their events.
 * Used by the daemon and by `cairn init`, so both create state the same way.
 *
 *   write path:  api → ItemService/GroupService → seal + sign → Acceptor (gates, LWW)
 *                → Store (one transaction) → `stored` event → search index, push
 *   read path:   api → ItemService → Store head → open with the vault's key ring
 */
import type { GroupId } from '../crypto/ids.js'
import { AuditLog } from '../audit/audit-log.js'
import type { Config } from '../config/schema.js'
import { HybridClock, clockWall } from '../crypto/hlc.js'
import { Acceptor, type AcceptorEvents } from '../groups/acceptor.js'
import { Quotas, quotaLimits } from '../groups/quotas.js'
import type { GroupContext } from '../groups/context.js'
import { GroupService } from '../groups/group-service.js'
import { GroupRegistry } from '../groups/registry.js'
import { reencryptJob } from '../groups/reencrypt.js'
import { auditRemoteDescriptors } from '../groups/membership-audit.js'
import { keeperAdoption, memberAdoption } from '../groups/adoption.js'
import { MembershipService, type MembershipEvents } from '../groups/membership.js'
import { InviteInbox } from '../groups/invite-inbox.js'
import { CopyIndex, ErasureService } from '../groups/erasure.js'
import { entityIdFromPublicKey, publicKeyFromEntityId } from '../crypto/ids.js'
import { ItemService } from '../items/item-service.js'
import { searchRules } from '../items/append-only.js'
import { AuditCopies } from '../groups/audit-copies.js'
import { Portability } from '../items/portability.js'
import { JobRunner } from '../jobs/job-runner.js'
import { onStored } from '../groups/record-rules.js'
import { hasKind } from '../records/record.js'
import { CairnError } from '../util/errors.js'
import { SearchIndexer } from '../search/indexer.js'
import { SearchIndex } from '../search/search-index.js'
import { Store } from '../store/store.js'
import { GroupCommit } from '../store/group-commit.js'
import { TypedEmitter } from '../util/events.js'
import type { Logger } from '../util/logger.js'
import { Vault } from '../vault/vault.js'
import { AttemptThrottle } from '../vault/attempt-throttle.js'
import { Metrics } from '../util/metrics.js'
import { CircleService } from '../circles/circle-service.js'
import { UnsealedKeys } from '../circles/unsealed-keys.js'
import { ApprovalQueue } from '../circles/approvals.js'
import type { NodeKey } from './node-key.js'
import { dataPaths } from './paths.js'
import { RejectionAudit } from '../audit/rejection-audit.js'
import type { StartPhases } from './start-phases.js'
import type { Kdf } from '../crypto/kdf.js'

export interface Services {
  config: Config
  keeper: boolean
  nodeKey: NodeKey
  store: Store<GroupId>
  audit: AuditLog
  clock: HybridClock
  registry: GroupRegistry
  acceptor: Acceptor
  events: TypedEmitter<AcceptorEvents>
  vault: Vault | undefined
  groups: GroupService
  items: ItemService
  portability: Portability
  circles: CircleService
  /** Acknowledged writes from the API go through here (group commit). */
  writes: GroupCommit
  jobs: JobRunner
  search: SearchIndex
  metrics: Metrics
  ctx: GroupContext
  log: Logger
  rejections: RejectionAudit
  membership: MembershipService
  erasure: ErasureService
  /** Invitations this node's entity received (absent on keepers). */
  inbox: InviteInbox | undefined
  /** Set by the network (node/network.ts): who must receive a leave or a group deletion, and a new member's node. */
  membershipNet: { ending: MembershipEvents['ending'], joined: MembershipEvents['joined'], ended: (gid: GroupId) => void } | undefined
  /** The keepers' copy of this node's audit checkpoints. */
  auditCopies: AuditCopies
  /** (Re)index one group's items in the search index (after an unseal). */
  indexGroup: (gid: GroupId) => Promise<void>
  /** Whether the search index holds every readable item (waits up to `ms` for its build after an unlock). */
  searchComplete: (ms: number) => Promise<boolean>
  unlock: (passphrase: string) => Promise<void>
  /** `cairn init`: create the vault, left open as unlock leaves it (its key derived once, not again to unlock). */
  createVault: (passphrase: string, entitySeed: Uint8Array, personalGroupId: GroupId) => Promise<void>
  lock: () => Promise<void>
  close: () => Promise<void>
}

/** How long POST …/unseal waits for people before answering "pending" unless the caller says (waitSeconds). */
const UNSEAL_WAIT_MS = 60_000

export interface BuildOptions {
  /** A start's timings (node/start-phases.ts). */
  phases?: StartPhases
  /** The vault's key derivation (scrypt unless given: recover remembers its one derivation). */
  kdf?: Kdf
}

export function buildServices (config: Config, nodeKey: NodeKey, log: Logger, o: BuildOptions = {}): Services {
  const keeper = config.node.keeper
  const paths = dataPaths(config.dataDir)
  const store = new Store<GroupId>(paths.db, keeper ? 'keeper' : 'member')
  o.phases?.mark('store')
  const audit = new AuditLog(store, nodeKey.signing)
  const clock = new HybridClock(Date.now, Number(store.getMeta('clock') ?? 0))
  const registry = new GroupRegistry(store)
  const events = new TypedEmitter<AcceptorEvents>()
  const vault = keeper ? undefined : new Vault(paths.vault, o.kdf !== undefined ? { kdf: o.kdf } : {})
  // Decoded once: a malformed entity ID in the config is a CONFIG error at start, not a silent "ask".
  const autoAccept = config.membership.auto_accept.map(e => {
    try { return entityIdFromPublicKey(publicKeyFromEntityId(e)) } catch { throw new CairnError('CONFIG', `membership.auto_accept: ${e.slice(0, 80)} is not an entity ID (cairn1…)`) }
  })
  let membership: MembershipService | undefined
  let inbox: InviteInbox | undefined
  // Summing what is stored scans every record: only a node with a budget needs it.
  const budget = keeper ? config.keeper.max_bytes : 0
  const quotas = new Quotas(quotaLimits(config.replication.peer_records_per_second, config.replication.peer_bytes_per_second, budget), budget > 0 ? store.totalBytes() : 0)
  const acceptor = new Acceptor({
    store, registry, clock, events, quotas,
    keepHistory: !keeper,
    maxSkewMs: config.replication.max_clock_skew_seconds * 1000,
    maxRecordBytes: config.replication.max_record_bytes,
    adoptGroup: vault === undefined ? keeperAdoption(nodeKey.peerId, config.keeper.allow_entities) : memberAdoption(vault, gid => inbox?.accepted(gid) === true),
    ended: gid => membership?.ended(gid)
  })
  const ctx: GroupContext = { store, registry, acceptor, clock, audit, vault, limits: { maxItemBytes: config.limits.max_item_bytes, maxGroups: config.limits.max_groups }, auditReads: config.audit.reads }
  const jobs = new JobRunner(store)
  const groups = new GroupService(ctx, jobs)
  const items = new ItemService(ctx, groups)
  membership = new MembershipService(ctx, groups, { invitationTtlMs: config.membership.invitation_ttl_seconds * 1000, completeAfterMs: config.membership.complete_after_seconds * 1000 })
  if (vault !== undefined) {
    inbox = new InviteInbox(ctx, {
      autoAccept, maxPending: config.membership.max_pending_invites, maxPendingPerInviter: config.membership.max_pending_per_inviter, perHourPerPeer: config.membership.invites_per_hour_per_peer
    })
  }
  const m = membership
  groups.setMembershipHooks({ invite: (gid, pub, role, o) => { m.invite(gid, pub, role, o) }, revoke: (gid, pub) => m.revoke(gid, pub), members: (gid, chain) => m.members(gid, chain) })
  const portability = new Portability(ctx, groups, items)
  const copies = new CopyIndex()
  const erasure = new ErasureService(ctx, groups, copies, { honour: config.membership.honour_erasure })
  erasure.setDeleter(id => { items.remove(id) })
  const search = new SearchIndex()
  const metrics = new Metrics()
  const rejections = new RejectionAudit(audit)
  const unlockThrottle = new AttemptThrottle('unlock')
  const wrongPassphrase = (e: unknown): boolean => (e as CairnError).code === 'BAD_PASSPHRASE'
  const circles = new CircleService(ctx, groups, jobs, new UnsealedKeys(), new ApprovalQueue(), {
    defaultTtlMs: config.circles.default_ttl_seconds * 1000,
    defaultApproval: config.circles.approval as 'auto' | 'manual',
    approvalWindowMs: config.circles.approval_window_seconds * 1000,
    unsealWaitMs: UNSEAL_WAIT_MS
  })
  circles.setMembership(m)
  m.setCircleMembership({ release: (gid, p) => circles.release(gid, p), drop: (gid, p) => { circles.drop(gid, p) } })
  groups.setCircleHooks({
    key: (gid, kv) => circles.keys.get(gid, kv),
    addMember: async (gid, e, r) => await circles.addMember(gid, e, r),
    removeMember: async (gid, e) => await circles.removeMember(gid, e),
    describe: gid => circles.describe(gid)
  })
  circles.keys.onDrop((gid, why) => {
    search.removeGroup(gid)
    if (why === 'expired') audit.record('circle-sealed', { groupId: gid, reason: 'ttl' })
  })
  const auditCopies = new AuditCopies(ctx, { peerId: nodeKey.peerId, publicKey: nodeKey.signing.publicKey })
  audit.onCheckpoint(() => {
    try { auditCopies.copyPending() } catch (e) { log.warn({ err: (e as Error).message }, 'could not copy the audit checkpoint for the keepers') }
  })
  jobs.register('reencrypt', reencryptJob(ctx, (gid, kv) => groups.keyFor(gid, kv), msg => { log.warn(msg) }))
  metrics.groups.set(store.listGroups().length)

  events.onListenerError(e => log.error({ err: e }, 'event listener failed'))
  events.on('stored', ({ record, origin }) => {
    metrics.stored.inc({ kind: record.rec.t, origin })
    if (origin !== 'local') metrics.pushToStore.observe(Math.max(0, Date.now() - clockWall(record.rec.c)) / 1000)
  })
  auditRemoteDescriptors({ events, registry, audit, store })
  const indexer = new SearchIndexer({
    index: search, store,
    keyFor: (gid, kv) => kv > 0 && groups.isCircle(gid) ? circles.keys.get(gid, kv) : vault?.ring(gid)?.get(kv),
    readable: gid => vault?.ring(gid) !== undefined || circles.keys.isUnsealed(gid),
    onOpened: (r, plain) => { copies.note(r.groupId, r.recordId, plain) },
    sealedHere: r => items.sealedHere(r),
    ...searchRules(ctx)
  })
  onStored(events, 'erasure', ({ record }) => { erasure.stored(record) })
  onStored(events, 'erasure-report', ({ record }) => { erasure.reported(record) })
  onStored(events, 'searchable', ({ record, reencrypted }) => { indexer.stored(record, reencrypted === true) })
  onStored(events, 'key-envelope', ({ record }) => { if (hasKind(record, 'key')) groups.absorbKeyEnvelope(record) })
  onStored(events, 'membership', ({ record }) => { m.stored(record) })
  events.on('descriptor', () => { m.armSoon() })
  onStored(events, 'group-deleted', ({ record }) => { m.deleted(record) })
  const svc = { membershipNet: undefined as Services['membershipNet'] }
  m.setEvents({
    ending: (gid, proof, to) => { svc.membershipNet?.ending(gid, proof, to) },
    joined: (gid, entityId) => { svc.membershipNet?.joined(gid, entityId) },
    ended: (gid, reason) => {
      circles.keys.seal(gid)
      search.removeGroup(gid)
      svc.membershipNet?.ended(gid)
      metrics.groups.set(store.listGroups().length)
      events.emit('group-ended', { groupId: gid, reason })
    }
  })
  events.on('group-added', ({ groupId }) => {
    metrics.groups.set(store.listGroups().length)
    if (groups.isPersonal(groupId)) groups.backupVault()
  })
  const warned = new Map<string, number>()
  events.on('rejected', ({ reason, origin, peer, groupId }) => {
    metrics.rejected.inc({ reason, origin })
    rejections.count(reason, origin, peer, groupId)
    log.debug({ reason, origin, peer, groupId }, 'record rejected')
    // An operator must hear about these, but once a minute is enough.
    if ((reason === 'storage-full' || reason === 'rate-limited') && Date.now() - (warned.get(reason) ?? 0) > 60_000) {
      warned.set(reason, Date.now())
      if (reason === 'storage-full') log.warn({ maxBytes: config.keeper.max_bytes, usedBytes: quotas.usedBytes }, 'the disk budget (keeper.max_bytes) is used up: new records are refused; raise it or free space')
      else log.warn({ peer, groupId }, 'a peer sends more than replication.peer_records_per_second / peer_bytes_per_second: its records are refused until it slows down')
    }
  })
  // Deletes and purges free room the acceptor does not see: recount (debounced).
  let recount: NodeJS.Timeout | undefined
  events.on('removed', () => {
    if (budget === 0) return
    recount ??= setTimeout(() => { recount = undefined; try { quotas.resync(store.totalBytes()) } catch { /* closed */ } }, 5000)
    recount.unref?.()
  })

  vault?.onChange(body => { groups.backupVault(body) })
  const writes = GroupCommit.forStore(store)
  items.signInBatches(writes)

  /**
   * The search index fills after the unlock, not during it: each item is opened
   * and its signature checked again (indexer.ts), ~0.1 ms apiece, minutes for a
   * large store. A search meanwhile waits for it briefly, then answers what is
   * indexed with `partial: true` (daemon.ts). The erasure copy index fills in the
   * same pass: tombstones wait for it to be whole (erasure.ts).
   */
  function rebuildIndex (): void {
    const t0 = performance.now()
    copies.clear()
    erasure.indexing()
    indexer.rebuild().then(n => {
      if (n === undefined) return
      log.info({ items: n, ms: Math.round(performance.now() - t0) }, 'search index built: every readable item is searchable')
      erasure.indexComplete()
    }, (e: unknown) => {
      if (search.isOpen) log.warn({ err: (e as Error).message }, 'search index build stopped; items written from now on are indexed, a restart or unlock builds the rest')
    })
  }

  /** What follows the vault's opening (by unlock or by init's creation): keys absorbed, index build started, jobs resumed. */
  async function afterOpen (v: Vault): Promise<void> {
    groups.absorbKeyEnvelopes()
    m.shredEnded()
    auditCopies.copyPending()
    rebuildIndex()
    metrics.unlocked.set(1)
    audit.record('unlocked', { entityId: v.entityId() })
    jobs.resume()
    m.sweep()
    m.armExpiry()
  }

  return {
    config, keeper, nodeKey, store, audit, clock, registry, acceptor, events, vault, groups, items, portability, circles, jobs, search, metrics, ctx, log, rejections, auditCopies,
    membership: m, inbox, erasure,
    get membershipNet () { return svc.membershipNet },
    set membershipNet (n) { svc.membershipNet = n },
    writes,
    indexGroup: async gid => { await indexer.group(gid) },
    searchComplete: async ms => await indexer.complete(ms),
    async unlock (passphrase: string) {
      if (vault === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'a keeper has no vault to unlock')
      // One scrypt at a time, a growing pause after wrong guesses (vault/attempt-throttle.ts).
      const opened = await unlockThrottle.attempt(async () => {
        const already = vault.unlocked
        try {
          if (already) await vault.verifyPassphrase(passphrase)
          else await vault.unlock(passphrase)
        } catch (e) {
          audit.record('unlock-failed', { failures: unlockThrottle.failureCount + (wrongPassphrase(e) ? 1 : 0) })
          throw e
        }
        return !already
      }, wrongPassphrase).catch((e: unknown) => { if ((e as CairnError).code === 'THROTTLED') metrics.unlockThrottled.inc(); throw e })
      if (opened) await afterOpen(vault)
    },
    async createVault (passphrase, entitySeed, personalGroupId) {
      if (vault === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'a keeper has no vault')
      await vault.create(passphrase, entitySeed, personalGroupId)
      await afterOpen(vault)
    },
    async lock () {
      if (vault === undefined || !vault.unlocked) return
      m.stopExpiry()
      await jobs.stop()
      circles.unsealer.cancelAll()
      circles.keys.sealAll()
      circles.approvals.clear()
      search.close()
      copies.clear()
      vault.lock()
      metrics.unlocked.set(0)
      audit.record('locked', {})
    },
    async close () {
      m.stopExpiry()
      await jobs.stop()
      circles.unsealer.cancelAll()
      circles.keys.sealAll()
      circles.approvals.clear()
      rejections.flush()
      inbox?.flushRefusals()
      search.close()
      vault?.lock()
      await writes.close()
      store.putMeta('clock', String(clock.peek()))
      store.close()
    }
  }
}
