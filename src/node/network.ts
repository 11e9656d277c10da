/**
 * Starts libp2p and the replication services for a node, and stops them in
 * reverse order. Bootstrap peers are dialled at start and redialled while
 * unreachable (the bootstrap module only announces them).
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Config } from '../config/schema.js'
import { hkdf } from '../crypto/kdf.js'
import { createNetwork, type CairnLibp2p } from '../replication/libp2p-node.js'
import { Replicator } from '../replication/replicator.js'
import type { ReplicationEvent } from '../replication/replication-view.js'
import { CairnError } from '../util/errors.js'
import type { Services } from './services.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { ShareServer, requestShare } from '../circles/share-protocol.js'
import { InviteServer } from '../replication/invite-protocol.js'
import type { StartPhases } from './start-phases.js'
import { fullGc, GcPacer } from '../util/gc-pacer.js'

export interface Network { libp2p: CairnLibp2p, replicator: Replicator, shares: ShareServer, stop: () => Promise<void> }

export interface NetworkOptions {
  /** Building a node for `cairn recover`: no bind records, no DHT announcement (its peer ID may never run). */
  recovering?: boolean
  onEvent?: (e: ReplicationEvent) => void
  /** A start's timings (node/start-phases.ts). */
  phases?: StartPhases
}

export async function startNetwork (config: Config, s: Services, no: NetworkOptions = {}): Promise<Network> {
  let libp2p: CairnLibp2p
  try {
    libp2p = await createNetwork({
      privateKey: s.nodeKey.privateKey,
      listen: config.network.listen,
      announce: config.network.announce,
      bootstrap: config.network.bootstrap,
      dht: config.network.dht,
      inboundPerSecond: config.network.inbound_per_second,
      maxConnections: config.network.max_connections,
      maxRecordBytes: config.replication.max_record_bytes,
      privateAddresses: true
    })
  } catch (e) {
    const msg = (e as Error).message
    throw new CairnError('CONFIG', `cannot start networking on ${config.network.listen.join(', ')}: ${msg}${/EADDRINUSE|in use/.test(msg) ? ' (the port is in use: pick another with --listen)' : ''}`)
  }
  no.phases?.mark('libp2p')
  const gc = gcPacer(s)
  const replicator = new Replicator({
    libp2p, store: s.store, registry: s.registry, acceptor: s.acceptor, events: s.events, vault: s.vault, clock: s.clock,
    metrics: s.metrics, log: s.log, keeper: s.keeper, audit: (k, d) => s.audit.record(k, d),
    decoySecret: hkdf(s.nodeKey.signing.seed, new Uint8Array(0), 'cairn/recover-decoy/v1'),
    chattyIntervalMs: config.replication.chatty_interval_seconds * 1000,
    taciturnIntervalMs: config.replication.taciturn_interval_seconds * 1000,
    requestTimeoutMs: config.replication.request_timeout_ms,
    maxRecordBytes: config.replication.max_record_bytes,
    ...(s.inbox !== undefined ? { inbox: s.inbox } : {}),
    ended: gid => s.membership.ended(gid),
    dht: config.network.dht,
    announceEntity: config.network.dht_announce_entity && no.recovering !== true,
    publishBindings: no.recovering !== true,
    ...(no.onEvent !== undefined ? { onEvent: no.onEvent } : {}),
    onSyncRecords: bytes => gc?.received(bytes)
  })
  await replicator.start()
  s.membershipNet = {
    ending: (gid, _proof, to) => { replicator.membership.ending(gid, to) },
    joined: (gid, entityId) => { replicator.membership.joined(gid, entityId) },
    ended: gid => { replicator.forgetGroup(gid) }
  }
  const inbox = s.inbox
  const invites = inbox !== undefined ? new InviteServer({ libp2p, log: s.log, timeoutMs: config.replication.request_timeout_ms, offer: (inv, peer, hints) => inbox.offer(inv, peer, hints) }) : undefined
  await invites?.start()
  const me = (): ReturnType<NonNullable<Services['vault']>['entityKey']> | undefined => s.vault?.unlocked === true ? s.vault.entityKey() : undefined
  const shares = new ShareServer({
    libp2p, me, log: s.log, timeoutMs: config.circles.request_timeout_ms + 2000,
    maxAgeMs: config.circles.request_max_age_seconds * 1000, startedAt: Date.now(),
    decide: async (gid, q, peer, gone, queued) => {
      const a = await s.circles.decide(gid, q, peer, gone, queued)
      s.metrics.shareRequests.inc({ side: 'holder', outcome: a.ok ? 'released' : a.reason })
      return a
    },
    onRefused: (gid, q, peer, reason) => {
      s.metrics.shareRequests.inc({ side: 'holder', outcome: reason })
      s.circles.refused(gid, q, peer, reason)
    }
  })
  if (!s.keeper) await shares.start()
  no.phases?.mark('replicator')
  s.circles.attachNetwork({
    peersOf: (gid, pub) => replicator.eachNodeOf(pub, gid),
    request: async (peer, gid, kv, holder, o) => {
      const key = me()
      if (key === undefined) throw new CairnError('VAULT_LOCKED', 'the vault is locked')
      try {
        try { await replicator.dialer.ensureConnected(peer) } catch (e) {
          throw new CairnError('UNAVAILABLE', (e as Error).message, { reason: 'unreachable' })
        }
        const g = await requestShare(libp2p, peerIdFromString(peer), key, gid, kv, holder, config.circles.request_timeout_ms, o)
        s.metrics.shareRequests.inc({ side: 'requester', outcome: 'received' })
        return g
      } catch (e) {
        s.metrics.shareRequests.inc({ side: 'requester', outcome: (e as CairnError).code ?? 'error' })
        throw e
      }
    }
  })
  let stopped = false
  const dialBootstrap = async (): Promise<void> => {
    for (const a of config.network.bootstrap) {
      if (stopped) return
      try {
        const ma = multiaddr(a)
        const pid = /\/p2p\/([^/]+)/.exec(a)?.[1]
        if (pid !== undefined && libp2p.getConnections().some(c => c.remotePeer.toString() === pid)) continue
        await libp2p.dial(ma, { signal: AbortSignal.timeout(config.replication.request_timeout_ms) })
      } catch (e) {
        s.log.debug({ addr: a, err: (e as Error).message }, 'bootstrap dial failed')
      }
    }
  }
  void dialBootstrap()
  const redial = setInterval(() => { void dialBootstrap() }, 5000)
  redial.unref()
  return {
    libp2p,
    replicator,
    shares,
    stop: async () => {
      stopped = true
      clearInterval(redial)
      gc?.stop()
      if (!s.keeper) await shares.stop()
      await invites?.stop()
      s.membershipNet = undefined
      await replicator.stop()
      await libp2p.stop()
    }
  }
}

const MiB = 2 ** 20
/** Sync records received between two full GCs (docs/PERFORMANCE.md "memory after a burst of sync records": 32, 8, 4 tried). */
const GC_EVERY_BYTES = 4 * MiB

/** A full GC per GC_EVERY_BYTES of sync records and at the end of a burst (util/gc-pacer.ts), logged. */
function gcPacer (s: Services): GcPacer | undefined {
  const collect = fullGc()
  if (collect === undefined) return undefined
  return new GcPacer({
    everyBytes: GC_EVERY_BYTES, quietMs: 2000, minBytes: GC_EVERY_BYTES, minIntervalMs: 1000, collect,
    onCollected: (why, ms, bytes) => {
      const m = process.memoryUsage()
      s.log.debug({ why, ms: Math.round(ms), receivedMiB: Math.round(bytes / MiB), rssMiB: Math.round(m.rss / MiB), heapMiB: Math.round(m.heapTotal / MiB) },
        why === 'bytes' ? `memory: a full GC after ${GC_EVERY_BYTES / MiB} MiB of sync records` : 'memory: a full GC at the end of a burst of sync records')
    }
  })
}
