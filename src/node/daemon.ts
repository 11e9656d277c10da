/**
 * The long-lived node: local services + HTTP API (+ libp2p networking).
 * Starts in order (store → vault → network → API) and stops in reverse, so no
 * request is answered by a half-built node and no write is cut mid-transaction.
 */
import { existsSync, unlinkSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { startApi } from '../api/server.js'
import type { ApiBackend, NodeEvent, StatusView, StatusWarning } from '../api/backend.js'
import { loadConfig, type Overrides } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { CairnError, isStorageCorrupt, storageCorrupt } from '../util/errors.js'
import { publicKeyFromEntityId } from '../crypto/ids.js'
import { ed25519Impl, useEd25519 } from '../crypto/sign.js'
import { writeFileAtomic } from '../util/fs.js'
import { claimPidFile, ensureApiToken } from './run-files.js'
import { createLogger, type Logger } from '../util/logger.js'
import { readIdentity, type Identity } from './identity.js'
import { loadNodeKey } from './node-key.js'
import { dataPaths, recoveryWorkDir, type DataPaths } from './paths.js'
import { buildServices, type Services } from './services.js'
import { VERSION } from './version.js'
import { startNetwork, type Network } from './network.js'
import { purgeExpiredTombstones } from '../groups/retention.js'
import { EventLog } from './event-log.js'
import { logEd25519, onAudit, onJob, onReplication, shortId, wireCircleActivity, type ActivityDeps } from './activity.js'
import { backgroundIntegrityCheck } from './integrity.js'
import type { JobView } from '../jobs/job-runner.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { normalizeAddr } from '../replication/address-book.js'
import { verifyHeldGroup } from '../groups/group-verify.js'
import { StartPhases } from './start-phases.js'
import type { Kdf } from '../crypto/kdf.js'
import type { GroupId } from '../crypto/ids.js'

export interface DaemonOptions {
  dataDir: string
  flags?: Overrides
  env?: NodeJS.ProcessEnv
  passphrase?: string
  log?: Logger
  /** Building a node for `cairn recover` (network.ts NetworkOptions). */
  recovering?: boolean
  /** The vault's key derivation (node/services.ts BuildOptions). */
  kdf?: Kdf
}

export class Daemon {
  private app: FastifyInstance | undefined
  apiPort = 0
  readonly events = new EventLog()
  private stopping: Promise<void> | undefined
  private markStopped: () => void = () => {}
  /** Settles once the daemon has stopped, whoever stopped it (signal, POST /shutdown). */
  readonly stopped = new Promise<void>(resolve => { this.markStopped = resolve })
  net: Network | undefined
  private integrity: 'ok' | 'running' | 'failed' | 'not-run' = 'not-run'
  private integrityDetail: string | undefined

  private constructor (readonly config: Config, readonly s: Services, readonly paths: DataPaths, readonly identity: Identity, readonly log: Logger) {}

  static async start (o: DaemonOptions): Promise<Daemon> {
    const phases = new StartPhases()
    const paths = dataPaths(o.dataDir)
    const identity = readIdentity(paths.identity)
    if (identity === undefined) {
      if (existsSync(recoveryWorkDir(o.dataDir))) throw new CairnError('NOT_INITIALIZED', `${o.dataDir} holds no cairn node yet: a \`cairn recover\` into it was interrupted; run the same recover command again to complete it`)
      throw new CairnError('NOT_INITIALIZED', `${o.dataDir} holds no cairn node; run \`cairn init\` (or \`cairn init --keeper\`) first`)
    }
    const config = loadConfig(o.dataDir, { env: o.env ?? process.env, ...(o.flags !== undefined ? { flags: o.flags } : {}) })
    if (config.node.keeper !== identity.keeper) {
      throw new CairnError('CONFIG', identity.keeper ? `${o.dataDir} was initialised as a keeper; start it with --keeper (or node.keeper = true)` : `${o.dataDir} holds an entity node; it cannot start as a keeper`)
    }
    const log = o.log ?? createLogger(config.log.level, (o.env ?? process.env).CAIRN_LOG_FILE)
    claimPidFile(paths.pid)
    useEd25519(config.crypto.ed25519 === 'openssl' ? 'openssl' : 'libsodium')
    phases.mark('config')
    let s: Services | undefined
    let dRef: Daemon | undefined
    try {
      const nodeKey = loadNodeKey(paths.nodeKey)
      s = buildServices(config, nodeKey, log, { phases, ...(o.kdf !== undefined ? { kdf: o.kdf } : {}) })
      const d = new Daemon(config, s, paths, identity, log)
      dRef = d
      d.wireEvents()
      logEd25519(log, ed25519Impl())
      if (s.store.opened.uncleanShutdown) log.warn({ check: s.store.opened.check }, `the last run did not stop cleanly; the store ${s.store.opened.check === 'ok' ? 'passed its integrity check' : 'is checked in the background'}`)
      phases.mark('services')
      if (o.passphrase !== undefined && !identity.keeper) await s.unlock(o.passphrase)
      phases.mark('unlock')
      d.net = await startNetwork(config, s, { ...(o.recovering === true ? { recovering: true } : {}), onEvent: e => onReplication(d.activity, e), phases })
      if (s.vault?.unlocked === true) await d.net.replicator.unlocked()
      phases.mark('replicator-unlocked')
      await d.startApi(phases)
      d.startMaintenance()
      if (s.store.opened.check === 'deferred') d.checkInBackground()
      writeFileAtomic(paths.pid, JSON.stringify({ pid: process.pid, apiPort: d.apiPort, apiHost: config.api.host, peerId: nodeKey.peerId, startedAt: new Date().toISOString() }) + '\n', 0o600)
      s.audit.record('started', { peerId: nodeKey.peerId, keeper: identity.keeper })
      s.audit.checkpoint()
      phases.mark('maintenance+audit')
      log.debug({ phases: phases.summary() }, 'start-up phases (ms)')
      log.info({ peerId: nodeKey.peerId, apiPort: d.apiPort, keeper: identity.keeper, listen: d.net.libp2p.getMultiaddrs().map(String) }, `cairn ${identity.keeper ? 'keeper' : 'node'} ${shortId(nodeKey.peerId)} started: API on ${config.api.host}:${d.apiPort}, ${groupCount(s.store.listGroups().length)}`)
      return d
    } catch (e) {
      await dRef?.net?.stop().catch(() => {})
      await s?.close().catch(() => {})
      try { unlinkSync(paths.pid) } catch {}
      // A damaged page met while starting (indexes, counts) names the way out, like any read.
      throw isStorageCorrupt(e) ? storageCorrupt(e) : e
    }
  }

  get services (): Services { return this.s }

  get activity (): ActivityDeps { return { log: this.log, emit: e => this.emit(e) } }

  private wireEvents (): void {
    this.s.events.on('stored', ({ record, origin }) => this.emit({ type: 'stored', groupId: record.groupId, id: record.recordId, kind: record.rec.t, origin, at: new Date().toISOString() }))
    this.s.events.on('rejected', ({ reason, origin, groupId }) => this.emit({ type: 'rejected', kind: reason, origin, ...(groupId !== undefined ? { groupId } : {}), at: new Date().toISOString() }))
    this.s.events.on('group-added', ({ groupId }) => {
      this.emit({ type: 'group-added', groupId, at: new Date().toISOString() })
      this.log.info({ group: groupId }, `now holding group ${shortId(groupId)}`)
    })
    const states = new Map<string, JobView['state']>()
    this.s.jobs.onUpdate(j => {
      onJob(this.activity, j, states.get(j.id))
      if (j.state === 'done' || j.state === 'failed') states.delete(j.id)
      else states.set(j.id, j.state)
    })
    this.s.audit.onEntry(e => onAudit(this.activity, e))
    wireCircleActivity(this.activity, this.s.circles)
    this.s.inbox?.onChange(e => {
      const v = e.invite
      this.emit({ type: 'invite', id: v.id, groupId: v.groupId, kind: e.kind === 'answered' ? v.state : e.kind, entityId: v.from, at: new Date().toISOString() })
      if (e.kind === 'received' && v.state === 'pending') {
        this.log.info({ inviteId: v.id, groupId: v.groupId, from: v.from, role: v.role, circle: v.circle },
          `an invitation waits for your answer: \`cairn invite accept ${v.id}\` or \`cairn invite decline ${v.id}\` (see \`cairn invites\`)`)
      } else this.log.info({ inviteId: v.id, groupId: v.groupId, from: v.from }, `invitation ${e.kind === 'answered' ? v.state : e.kind}`)
    })
    this.s.events.on('group-ended', ({ groupId, reason }) => {
      this.emit({ type: 'group-ended', groupId, kind: reason, at: new Date().toISOString() })
      this.log.info({ groupId, reason }, reason === 'deleted' ? 'group deleted: its records are purged and its keys shredded' : 'group left: its records are purged and its keys shredded')
    })
  }

  emit (e: NodeEvent): void { this.events.push(e) }

  /** After an unclean shutdown of a large store: check it without holding up the start (node/integrity.ts). */
  private checkInBackground (): void {
    this.integrity = 'running'
    this.log.info('integrity check of the store running in the background')
    backgroundIntegrityCheck(this.s.store.path).then(r => {
      this.integrity = r === 'ok' ? 'ok' : 'failed'
      this.integrityDetail = r
      if (r === 'ok') this.log.info('integrity check passed')
      else {
        this.log.error({ result: r.slice(0, 500) }, 'THE STORE FAILED ITS INTEGRITY CHECK: stop the node and restore it from keepers (`cairn recover` into a new directory); `cairn doctor` shows details')
        try { this.s.audit.record('integrity-check-failed', { result: r.slice(0, 200) }) } catch { /* the store may be unwritable */ }
      }
    }, (e: Error) => {
      this.integrity = 'not-run'
      this.log.warn({ err: e.message }, 'background integrity check could not run; run `cairn doctor`')
    })
  }

  /** What `cairn status` warns about (SPEC §4: where a write is, is visible). */
  warnings (): StatusWarning[] {
    const out: StatusWarning[] = []
    if (this.integrity === 'failed') out.push({ code: 'INTEGRITY', message: `the store failed its integrity check (${(this.integrityDetail ?? '').slice(0, 100)}); restore from keepers` })
    const net = this.net
    if (net === undefined || this.s.keeper) return out
    const self = this.s.nodeKey.peerId
    for (const g of this.s.store.listGroups()) {
      const d = this.s.registry.chain(g.gid)?.current()
      if (d === undefined) continue
      const keepers = d.k.filter(k => k !== self)
      if (keepers.length === 0) { out.push({ code: 'NO_KEEPER', groupId: g.gid, message: `group ${g.gid} has no keeper: its records are only on member nodes (\`cairn group add-keeper\`)` }); continue }
      const r = net.replicator
      if (!keepers.some(k => r.dialer.connected(k))) out.push({ code: 'NO_KEEPER_CONNECTED', groupId: g.gid, message: `group ${g.gid}: none of its ${keepers.length} keeper(s) is connected` })
      const owed = r.outbox.pending(g.gid)
      const lacking = Math.min(...keepers.map(k => owed.has(`peer:${k}`) ? this.s.store.countGroupRecords(g.gid) : r.state.view(g.gid, k).behind))
      if (lacking > 0) out.push({ code: 'NOT_ON_A_KEEPER', groupId: g.gid, message: `group ${g.gid}: ${lacking} record(s) are on no keeper yet` })
    }
    return out
  }

  status (): StatusView {
    const v = this.s.vault
    const unlocked = v?.unlocked ?? false
    return {
      peerId: this.s.nodeKey.peerId,
      entityId: unlocked ? v!.entityId() : this.identity.entityId,
      listenAddrs: this.net?.libp2p.getMultiaddrs().map(String) ?? [],
      unlocked,
      keeper: this.s.keeper,
      personalGroupId: unlocked ? v!.personalGroupId() : this.identity.personalGroupId,
      counts: { groups: this.s.store.listGroups().length, items: this.s.store.countAllItems(), peers: this.net?.libp2p.getPeers().length ?? 0 },
      version: VERSION,
      warnings: this.warnings()
    }
  }

  backend (): ApiBackend {
    const s = this.s
    return {
      dataDir: this.config.dataDir,
      status: () => this.status(),
      unlock: async (p) => { await s.unlock(p); await this.net?.replicator.unlocked(); this.emit({ type: 'unlocked', at: new Date().toISOString() }) },
      lock: async () => {
        if (s.vault === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'a keeper has no vault to lock: it never holds keys')
        await s.lock()
        this.emit({ type: 'locked', at: new Date().toISOString() })
      },
      groups: s.groups,
      items: s.items,
      portability: s.portability,
      membership: s.membership,
      erasure: s.erasure,
      inbox: s.inbox,
      commit: async (fn) => await s.writes.submit(fn),
      circles: s.circles,
      afterUnseal: async gid => { await s.indexGroup(gid) },
      createCircle: async (inp) => {
        if (inp.circle === undefined) throw new CairnError('INVALID_INPUT', 'circle is required')
        return await s.circles.create({ name: inp.name, threshold: inp.circle.threshold, members: inp.circle.members, ...(inp.culture !== undefined ? { culture: inp.culture } : {}), ...(inp.circle.approval !== undefined ? { approval: inp.circle.approval } : {}) })
      },
      job: id => s.jobs.get(id),
      search: async (q, limit, gid) => {
        if (s.vault === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'a keeper cannot search: it holds no keys')
        if (!s.vault.unlocked) throw new CairnError('VAULT_LOCKED', 'the vault is locked; unlock it to search')
        // Just after an unlock the index may still be filling (services.ts rebuildIndex): wait a moment, then say so.
        const whole = await s.searchComplete(SEARCH_WAIT_MS)
        const found = await s.search.search(q, limit, gid)
        if (!whole) found.partial = true
        // audit.reads: the entry has committed (group commit) before the answer goes out.
        const by = s.vault.entityId()
        if (this.config.audit.reads) await s.writes.submit(() => s.audit.record('searched', { ...(gid !== undefined ? { groupId: gid } : {}), count: found.results.length, items: found.results.map(h => h.itemId), by }))
        return found
      },
      groupVerify: async (gid) => {
        const verifier = this.net?.replicator.verifier
        const maxBytes = this.config.replication.max_record_bytes
        return await verifyHeldGroup(s.ctx, gid, {
          now: Date.now(), maxSkewMs: this.config.replication.max_clock_skew_seconds * 1000,
          ...(verifier !== undefined ? { check: async (batch: Uint8Array[]) => await verifier.check(batch, maxBytes) } : {}),
          keyFor: kv => s.groups.keyFor(gid, kv)
        })
      },
      read: async (fn) => this.config.audit.reads ? await s.writes.submit(fn) : fn(),
      auditList: (since, limit) => s.audit.list(since, limit),
      auditNewest: limit => s.audit.list(Math.max(0, (s.store.auditTail()?.seq ?? 0) - limit), limit).reverse(),
      resolveItems: (prefix, limit) => s.store.itemsByPrefix(prefix, limit).map(r => ({ id: r.rid, groupId: r.gid })),
      auditVerify: async () => await s.auditCopies.verify(await s.audit.verify(), async gid => await this.refreshPersonal(gid, VERIFY_SYNC_MS)),
      auditExport: since => s.audit.exportLines(since),
      metrics: async () => ({ contentType: s.metrics.contentType, text: await s.metrics.text() }),
      peers: () => this.network().replicator.dialer.peers(),
      dial: async (addr) => await this.network().replicator.dialer.dial(addr),
      sync: async (gid) => {
        if (s.registry.chain(gid) === undefined) throw new CairnError('NOT_FOUND', `no group ${gid} on this node`)
        return await this.network().replicator.syncGroup(gid)
      },
      deliveryHint: (gid, to, address) => {
        const r = this.net?.replicator
        if (r === undefined) return
        if ('peerId' in to) { r.deliverTo(to.peerId, gid, address); return }
        // An invited member's node gets the invitation there; the group itself once it consented.
        const m = s.groups.view(gid).members.find(x => x.entityId === to.entityId)
        if (m?.state === 'invited') r.membership.inviteWritten(gid, publicKeyFromEntityId(to.entityId), address)
        else r.deliverToEntity(to.entityId, gid, address)
      },
      checkAddress: (addr, peerId) => {
        if (!addr.startsWith('/')) {
          try { peerIdFromString(addr) } catch { throw new CairnError('INVALID_INPUT', `${addr.slice(0, 100)} is neither a multiaddr (/ip4/…/tcp/…/p2p/…) nor a peer ID`) }
          if (peerId !== undefined && addr !== peerId) throw new CairnError('INVALID_INPUT', `multiaddr ${addr.slice(0, 100)} names another peer than peerId ${peerId.slice(0, 100)}`)
          return
        }
        const named = /\/p2p\/([^/]+)$/.exec(addr)?.[1]
        const who = peerId ?? named
        if (who === undefined) throw new CairnError('INVALID_INPUT', `${addr.slice(0, 100)} must end with /p2p/<peerId> (or give peerId with it)`)
        if (normalizeAddr(addr, who) === undefined) throw new CairnError('INVALID_INPUT', `${addr.slice(0, 100)} is not a dialable address of ${who.slice(0, 100)}: a multiaddr such as /ip4/1.2.3.4/tcp/9474/p2p/${who.slice(0, 100)}`)
      },
      events: { subscribe: fn => this.events.subscribe(fn), since: id => this.events.since(id) },
      replication: gid => {
        if (s.registry.chain(gid) === undefined) throw new CairnError('NOT_FOUND', `no group ${gid} on this node`)
        return this.network().replicator.replication(gid)
      },
      jobs: limit => s.jobs.list(limit),
      shutdown: () => {
        this.log.info('shutdown requested over the API')
        // After the 202 has gone out: closing the API first would cut it off.
        setTimeout(() => { void this.stop() }, 50).unref()
      }
    }
  }

  private maintenance: NodeJS.Timeout | undefined
  private checkpoints: NodeJS.Timeout | undefined

  /** Periodic: expired tombstones (hourly, or twice per retention period if shorter). */
  startMaintenance (): void {
    const retentionMs = this.config.replication.tombstone_retention_seconds * 1000
    const run = (): void => {
      try {
        const n = purgeExpiredTombstones(this.s.store, this.s.events, retentionMs)
        if (n > 0) this.s.audit.record('tombstones-purged', { count: n })
        this.s.inbox?.expire()
        this.s.membership.sweep()
      } catch (e) { this.log.warn({ err: (e as Error).message }, 'tombstone purge failed') }
    }
    run()
    this.maintenance = setInterval(run, Math.max(1000, Math.min(3_600_000, retentionMs / 2)))
    this.maintenance.unref()
    const every = this.config.audit.checkpoint_interval_seconds
    if (every > 0) {
      this.checkpoints = setInterval(() => {
        try { this.s.audit.checkpoint() } catch (e) { this.log.warn({ err: (e as Error).message }, 'audit checkpoint failed') }
      }, every * 1000)
      this.checkpoints.unref()
    }
  }

  /** Sync the personal group with its keepers, within `ms`: did any keeper answer? */
  async refreshPersonal (gid: GroupId, ms: number): Promise<{ refreshed: boolean, error?: string }> {
    if (this.net === undefined) return { refreshed: false, error: 'networking is not running on this node' }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new CairnError('TIMEOUT', `no keeper answered within ${ms / 1000} s`)), ms) })
    try {
      const r = await Promise.race([this.net.replicator.syncGroup(gid), timeout])
      const ok = r.peers.some(p => p.error === undefined)
      return ok ? { refreshed: true } : { refreshed: false, error: r.peers.find(p => p.error !== undefined)?.error ?? 'the personal group has no keeper' }
    } catch (e) {
      return { refreshed: false, error: (e as Error).message }
    } finally { clearTimeout(timer) }
  }

  private async flushAuditCopy (): Promise<void> {
    const v = this.s.vault
    if (v === undefined || !v.unlocked || (this.s.registry.chain(v.personalGroupId())?.current().k.length ?? 0) === 0) return
    const r = await this.refreshPersonal(v.personalGroupId(), STOP_SYNC_MS)
    if (!r.refreshed) this.log.warn({ reason: r.error }, 'the keepers may not hold the last audit checkpoint (the personal group could not be synced before stopping)')
  }

  network (): Network {
    if (this.net === undefined) throw new CairnError('UNAVAILABLE', 'networking is not running on this node')
    return this.net
  }

  private async startApi (phases?: StartPhases): Promise<void> {
    const token = ensureApiToken(this.paths.apiToken)
    const { app, port } = await startApi(this.backend(), {
      host: this.config.api.host, port: this.config.api.port, token, maxBodyBytes: this.config.api.max_body_bytes, version: VERSION, log: this.log, ...(phases !== undefined ? { phases } : {}),
      onRequest: (method, route, status) => this.s.metrics.http.inc({ method, route, status: String(status) })
    }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') throw new CairnError('CONFIG', `port ${this.config.api.port} on ${this.config.api.host} is in use; another cairn node may be running (pick one with --api-port)`)
      throw e
    })
    this.app = app
    this.apiPort = port
  }

  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('cairn node stopping')
      this.emit({ type: 'stopping', at: new Date().toISOString() })
      if (this.maintenance !== undefined) clearInterval(this.maintenance)
      if (this.checkpoints !== undefined) clearInterval(this.checkpoints)
      await this.app?.close().catch(() => {})
      // The last checkpoint goes to the keepers before the network stops: a log
      // cut while the node is down is then caught against their copy. What that
      // sync brought (refusals, audited in aggregate) gets one more checkpoint.
      this.s.audit.record('stopped', {})
      for (let round = 0, signed = -1; round < 2 && signed !== this.s.audit.tailSeq; round++) {
        this.s.rejections.flush()
        this.s.audit.checkpoint()
        signed = this.s.audit.tailSeq
        await this.flushAuditCopy()
        this.s.rejections.flush()
      }
      await this.net?.stop().catch(e => this.log.warn({ err: (e as Error).message }, 'network stop failed'))
      await this.s.close()
      try { unlinkSync(this.paths.pid) } catch {}
      this.log.info('cairn node stopped')
    })().finally(() => this.markStopped())
    return await this.stopping
  }
}

const groupCount = (n: number): string => `${n} group${n === 1 ? '' : 's'}`

/** How long a stop waits for the keepers to take the last audit checkpoint, ms. */
const STOP_SYNC_MS = 5000
/** How long a search just after an unlock waits for the index to be whole before answering `partial`. */
const SEARCH_WAIT_MS = 1000
/** How long an audit verify waits to refresh the keepers' copy, ms. */
const VERIFY_SYNC_MS = 15_000
