/**
 * What the HTTP API needs from the node. node/ implements it; api/ never
 * imports concrete services, only these types.
 */
import type { GroupService, GroupView } from '../groups/group-service.js'
import type { ItemService } from '../items/item-service.js'
import type { JobView } from '../jobs/job-runner.js'
import type { AuditEntry } from '../audit/audit-log.js'
import type { SearchHit } from '../search/search-index.js'
import type { CircleService } from '../circles/circle-service.js'
import type { ReplicationPeer } from '../replication/replication-view.js'

export interface StatusView {
  peerId: string
  entityId: string | null
  listenAddrs: string[]
  unlocked: boolean
  keeper: boolean
  personalGroupId: string | null
  counts: { groups: number, items: number, peers: number }
  version: string
  /** What an operator should look at: groups without a connected keeper, records no keeper holds yet, a failed integrity check. */
  warnings?: StatusWarning[]
}

export interface PeerView { peerId: string, addrs: string[], entityId?: string }

export interface SyncPeerReport { peerId: string, sent: number, received: number, bytes: number, roundTrips: number, error?: string }

/** One thing that happened, as `GET /api/v1/events` streams it: IDs, kinds and counts, never content. */
export interface NodeEvent {
  type: string
  groupId?: string
  id?: string
  kind?: string
  origin?: string
  peerId?: string
  entityId?: string
  sent?: number
  received?: number
  done?: number
  total?: number
  error?: string
  at: string
}

/** An event with its SSE ID (`<boot>-<seq>`), for `Last-Event-ID` resumption. */
export interface LoggedEvent { id: string, event: NodeEvent }

export interface StatusWarning { code: string, message: string, groupId?: string }

export interface ApiBackend {
  dataDir: string
  status: () => StatusView
  unlock: (passphrase: string) => Promise<void>
  lock: () => Promise<void>
  groups: GroupService
  circles: CircleService
  /** Index the circle's items for search while it is unsealed. */
  afterUnseal: (groupId: string) => void
  createCircle: (inp: { name: string, culture?: 'chatty' | 'taciturn', circle?: { threshold: number, members: string[], approval?: 'auto' | 'manual' } }) => Promise<GroupView>
  items: ItemService
  /** Run a write in the next group-commit transaction; settles after it committed. */
  commit: <T>(fn: () => T) => Promise<T>
  job: (id: string) => JobView | undefined
  search: (q: string, limit: number, groupId?: string) => SearchHit[]
  auditList: (since: number, limit: number) => AuditEntry[]
  /** The newest `limit` entries, newest first. */
  auditNewest: (limit: number) => AuditEntry[]
  /** Items whose ID starts with `prefix` (lower case), in any group held. */
  resolveItems: (prefix: string, limit: number) => Array<{ id: string, groupId: string }>
  auditVerify: () => { ok: boolean, entries: number, brokenAt?: number, reason?: string }
  metrics: () => Promise<{ contentType: string, text: string }>
  peers: () => PeerView[]
  dial: (multiaddr: string) => Promise<PeerView>
  sync: (groupId: string) => Promise<{ peers: SyncPeerReport[] }>
  /** Deliver/announce after a membership or keeper change (replication); no-op without network. */
  onGroupChanged: (groupId: string, hint?: { multiaddr?: string, entityId?: string, peerId?: string }) => Promise<void>
  /** INVALID_INPUT unless `addr` is a multiaddr (of `peerId`, when given) or a bare peer ID. */
  checkAddress: (addr: string, peerId?: string) => void
  /** Live events; `since(lastEventId)` replays what a reconnecting client missed. */
  events: { subscribe: (fn: (e: LoggedEvent) => void) => () => void, since: (lastEventId: string | undefined) => { events: LoggedEvent[], gap: boolean } }
  /** GET /groups/:gid/replication */
  replication: (groupId: string) => ReplicationPeer[]
  /** Recent and unfinished background jobs, newest first. */
  jobs: (limit: number) => JobView[]
  /** POST /shutdown: the daemon stops as on SIGTERM, after this request is answered. */
  shutdown: () => void
}
