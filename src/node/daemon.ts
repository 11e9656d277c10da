/**
 * The long-lived node: local services + HTTP API (+ libp2p networking).
 * Starts in order (store → vault → network → API) and stops in reverse, so no
 * request is answered by a half-built node and no write is cut mid-transaction.
 */
import { existsSync, readFileSync, unlinkSync, chmodSync, statSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { startApi } from '../api/server.js'
import type { ApiBackend, NodeEvent, StatusView } from '../api/backend.js'
import { loadConfig, type Overrides } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { CairnError, isStorageCorrupt, storageCorrupt } from '../util/errors.js'
import { writeFileAtomic } from '../util/fs.js'
import { createLogger, type Logger } from '../util/logger.js'
import { readIdentity, type Identity } from './identity.js'
import { loadNodeKey } from './node-key.js'
import { dataPaths, type DataPaths } from './paths.js'
import { buildServices, type Services } from './services.js'
import { VERSION } from './version.js'
import { startNetwork, type Network } from './network.js'
import { purgeExpiredTombstones } from '../groups/retention.js'

export interface DaemonOptions {
  dataDir: string
  flags?: Overrides
  env?: NodeJS.ProcessEnv
  passphrase?: string
  log?: Logger
}

export class Daemon {
  private app: FastifyInstance | undefined
  apiPort = 0
  private readonly listeners = new Set<(e: NodeEvent) => void>()
  private stopping: Promise<void> | undefined
  net: Network | undefined

  private constructor (readonly config: Config, readonly s: Services, readonly paths: DataPaths, readonly identity: Identity, readonly log: Logger) {}

  static async start (o: DaemonOptions): Promise<Daemon> {
    const paths = dataPaths(o.dataDir)
    const identity = readIdentity(paths.identity)
    if (identity === undefined) throw new CairnError('NOT_INITIALIZED', `${o.dataDir} holds no cairn node; run \`cairn init\` (or \`cairn init --keeper\`) first`)
    const config = loadConfig(o.dataDir, { env: o.env ?? process.env, ...(o.flags !== undefined ? { flags: o.flags } : {}) })
    if (config.node.keeper !== identity.keeper) {
      throw new CairnError('CONFIG', identity.keeper ? `${o.dataDir} was initialised as a keeper; start it with --keeper (or node.keeper = true)` : `${o.dataDir} holds an entity node; it cannot start as a keeper`)
    }
    const log = o.log ?? createLogger(config.log.level, (o.env ?? process.env).CAIRN_LOG_FILE)
    claimPidFile(paths.pid)
    let s: Services | undefined
    let dRef: Daemon | undefined
    try {
      const nodeKey = loadNodeKey(paths.nodeKey)
      s = buildServices(config, nodeKey, log)
      const d = new Daemon(config, s, paths, identity, log)
      dRef = d
      d.wireEvents()
      if (o.passphrase !== undefined && !identity.keeper) await s.unlock(o.passphrase)
      d.net = await startNetwork(config, s)
      if (s.vault?.unlocked === true) await d.net.replicator.unlocked()
      await d.startApi()
      d.startMaintenance()
      writeFileAtomic(paths.pid, JSON.stringify({ pid: process.pid, apiPort: d.apiPort, apiHost: config.api.host, peerId: nodeKey.peerId, startedAt: new Date().toISOString() }) + '\n', 0o600)
      s.audit.record('started', { peerId: nodeKey.peerId, keeper: identity.keeper })
      log.info({ peerId: nodeKey.peerId, apiPort: d.apiPort, keeper: identity.keeper }, 'cairn node started')
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

  private wireEvents (): void {
    this.s.events.on('stored', ({ record, origin }) => this.emit({ type: 'stored', groupId: record.groupId, id: record.recordId, kind: record.rec.t, origin, at: new Date().toISOString() }))
    this.s.events.on('rejected', ({ reason, origin, groupId }) => this.emit({ type: 'rejected', kind: reason, origin, ...(groupId !== undefined ? { groupId } : {}), at: new Date().toISOString() }))
    this.s.jobs.onUpdate(j => this.emit({ type: 'job', id: j.id, groupId: j.groupId, kind: j.state, at: new Date().toISOString() }))
    this.wireCircleEvents()
  }

  /** A holder's person must learn that someone waits for them; a requester sees its unseal move. */
  private wireCircleEvents (): void {
    this.s.circles.approvals.onChange(v => {
      this.emit({ type: 'share-request', groupId: v.groupId, id: v.id, kind: v.state, entityId: v.from, at: new Date().toISOString() })
      if (v.state === 'pending') {
        this.log.info({ groupId: v.groupId, from: v.from, requestId: v.id, expiresAt: v.expiresAt },
          `a share request waits for your approval: \`cairn circle approve ${v.id}\` or \`cairn circle deny ${v.id}\` (see \`cairn circle requests\`)`)
      } else this.log.info({ groupId: v.groupId, from: v.from, requestId: v.id }, `share request ${v.state}`)
    })
    const told = new Set<string>()
    this.s.circles.onUnsealProgress(p => {
      this.emit({ type: 'unseal', groupId: p.groupId, kind: p.state, collected: p.collected, needed: p.needed, at: new Date().toISOString() })
      for (const h of p.holders) {
        const key = `${p.groupId}/${p.startedAt}/${h.entityId}`
        if (h.state === 'waiting' && !told.has(key)) {
          told.add(key)
          this.log.info({ groupId: p.groupId, holder: h.entityId, until: h.waitingUntil, collected: p.collected, needed: p.needed }, 'unseal waits for a holder\'s person to approve')
        }
      }
      if (p.state !== 'pending') {
        for (const k of told) if (k.startsWith(`${p.groupId}/`)) told.delete(k)
        this.log.info({ groupId: p.groupId, collected: p.collected, needed: p.needed, approved: p.approved, denied: p.denied, noAnswer: p.noAnswer }, `unseal ${p.state}`)
      }
    })
  }

  emit (e: NodeEvent): void { for (const l of this.listeners) l(e) }

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
      version: VERSION
    }
  }

  backend (): ApiBackend {
    const s = this.s
    return {
      dataDir: this.config.dataDir,
      status: () => this.status(),
      unlock: async (p) => { await s.unlock(p); await this.net?.replicator.unlocked(); this.emit({ type: 'unlocked', at: new Date().toISOString() }) },
      lock: async () => { await s.lock(); this.emit({ type: 'locked', at: new Date().toISOString() }) },
      groups: s.groups,
      items: s.items,
      portability: s.portability,
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
        return await s.search.search(q, limit, gid)
      },
      auditList: (since, limit) => s.audit.list(since, limit),
      auditVerify: () => s.audit.verify(),
      metrics: async () => ({ contentType: s.metrics.contentType, text: await s.metrics.text() }),
      peers: () => this.network().replicator.dialer.peers(),
      dial: async (addr) => await this.network().replicator.dialer.dial(addr),
      sync: async (gid) => {
        if (s.registry.chain(gid) === undefined) throw new CairnError('NOT_FOUND', `no group ${gid} on this node`)
        return await this.network().replicator.syncGroup(gid)
      },
      deliveryHint: (gid, to, address) => {
        const r = this.net?.replicator
        if ('peerId' in to) r?.deliverTo(to.peerId, gid, address)
        else r?.deliverToEntity(to.entityId, gid, address)
      },
      subscribe: fn => { this.listeners.add(fn); return () => { this.listeners.delete(fn) } }
    }
  }

  private maintenance: NodeJS.Timeout | undefined

  /** Periodic: expired tombstones (hourly, or twice per retention period if shorter). */
  startMaintenance (): void {
    const retentionMs = this.config.replication.tombstone_retention_seconds * 1000
    const run = (): void => {
      try {
        const n = purgeExpiredTombstones(this.s.store, this.s.events, retentionMs)
        if (n > 0) this.s.audit.record('tombstones-purged', { count: n })
      } catch (e) { this.log.warn({ err: (e as Error).message }, 'tombstone purge failed') }
    }
    run()
    this.maintenance = setInterval(run, Math.max(1000, Math.min(3_600_000, retentionMs / 2)))
    this.maintenance.unref()
  }

  network (): Network {
    if (this.net === undefined) throw new CairnError('UNAVAILABLE', 'networking is not running on this node')
    return this.net
  }

  private async startApi (): Promise<void> {
    const token = ensureApiToken(this.paths.apiToken)
    const { app, port } = await startApi(this.backend(), {
      host: this.config.api.host, port: this.config.api.port, token, maxBodyBytes: this.config.api.max_body_bytes, version: VERSION, log: this.log,
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
      if (this.maintenance !== undefined) clearInterval(this.maintenance)
      await this.app?.close().catch(() => {})
      await this.net?.stop().catch(e => this.log.warn({ err: (e as Error).message }, 'network stop failed'))
      this.s.audit.record('stopped', {})
      this.s.audit.checkpoint()
      await this.s.close()
      try { unlinkSync(this.paths.pid) } catch {}
    })()
    return this.stopping
  }
}

/** Refuse to run two daemons on one data dir; a stale file from a killed daemon is replaced. */
function claimPidFile (path: string): void {
  if (!existsSync(path)) return
  try {
    const { pid } = JSON.parse(readFileSync(path, 'utf8')) as { pid: number }
    if (pid !== process.pid && isAlive(pid)) throw new CairnError('CONFLICT', `a cairn daemon (pid ${pid}) is already running on this data dir`)
  } catch (e) {
    if (e instanceof CairnError) throw e
  }
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' }
}

export function ensureApiToken (path: string): string {
  if (existsSync(path)) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
    const t = readFileSync(path, 'utf8').trim()
    if (t.length >= 32) return t
  }
  const token = randomBytes(32).toString('hex')
  writeFileAtomic(path, token + '\n', 0o600)
  return token
}
