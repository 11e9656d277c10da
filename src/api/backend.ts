/**
 * What the HTTP API needs from the node. node/ implements it; api/ never
 * imports concrete services, only these types.
 */
import type { GroupId } from '../crypto/ids.js'
import type { GroupService, GroupView } from '../groups/group-service.js'
import type { GroupVerdict } from '../groups/group-verify.js'
import type { ItemService } from '../items/item-service.js'
import type { Portability } from '../items/portability.js'
import type { MembershipService } from '../groups/membership.js'
import type { InviteInbox } from '../groups/invite-inbox.js'
import type { ErasureService } from '../groups/erasure.js'
import type { JobView } from '../jobs/job-runner.js'
import type { AuditEntry, AuditVerdict } from '../audit/audit-log.js'
import type { SearchResult } from '../search/search-index.js'
import type { CircleService } from '../circles/circle-service.js'
import type { ReplicationPeer } from '../replication/replication-view.js'

export interface StatusView {
  peerId: string
  entityId: string | null
  listenAddrs: string[]
  unlocked: boolean
  keeper: boolean
  personalGroupId: GroupId | null
  counts: { groups: number, items: number, peers: number }
  version: string
  /** What an operator should look at: groups without a connected keeper, records no keeper holds yet, a failed integrity check. */
  warnings?: StatusWarning[]
}

export interface PeerView { peerId: string, addrs: string[], entityId?: string }

export interface SyncPeerReport { peerId: string, sent: number, received: number, bytes: number, roundTrips: number, error?: string }

/**
 * One thing that happened, as `GET /api/v1/events` streams it: IDs, kinds and
 * counts, never content. `share-request` (holder side: a request waits for this
 * node's person, or was decided; `id` is the request ID, `entityId` the
 * requester) and `unseal` (requester side: progress `collected`/`needed`,
 * `kind` = pending | unsealed | failed | cancelled).
 */
export interface NodeEvent {
  type: string
  groupId?: GroupId
  id?: string
  kind?: string
  origin?: string
  peerId?: string
  entityId?: string
  sent?: number
  received?: number
  done?: number
  total?: number
  collected?: number
  needed?: number
  error?: string
  at: string
}

/** An event with its SSE ID (`<boot>-<seq>`), for `Last-Event-ID` resumption. */
export interface LoggedEvent { id: string, event: NodeEvent }

export interface StatusWarning { code: string, message: string, groupId?: GroupId }

export interface ApiBackend {
  dataDir: string
  status: () => StatusView
  unlock: (passphrase: string) => Promise<void>
  lock: () => Promise<void>
  groups: GroupService
  circles: CircleService
  /** Index the circle's items for search while it is unsealed. */
  afterUnseal: (groupId: GroupId) => Promise<void>
  createCircle: (inp: { name: string, culture?: 'chatty' | 'taciturn', circle?: { threshold: number, members: string[], approval?: 'auto' | 'manual' } }) => Promise<GroupView>
  items: ItemService
  portability: Portability
  membership: MembershipService
  erasure: ErasureService
  /** Invitations received (absent on keepers). */
  inbox: InviteInbox | undefined
  /** Run a write in the next group-commit transaction; settles after it committed. */
  commit: <T>(fn: () => T) => Promise<T>
  /** Re-check every stored record of a group (signatures, rights, the append-only DAG; content with a key). */
  groupVerify: (groupId: GroupId) => Promise<GroupVerdict>
  /** Run a read; with audit.reads its audit entry has committed before the answer goes out (group commit). */
  read: <T>(fn: () => T) => Promise<T>
  job: (id: string) => JobView | undefined
  /** Bounded in time: `partial` is true when the budget ran out before every match was ranked. */
  search: (q: string, limit: number, groupId?: GroupId) => Promise<SearchResult>
  auditList: (since: number, limit: number) => AuditEntry[]
  /** The newest `limit` entries, newest first. */
  auditNewest: (limit: number) => AuditEntry[]
  /** Items whose ID starts with `prefix` (lower case), in any group held. */
  resolveItems: (prefix: string, limit: number) => Array<{ id: string, groupId: string }>
  /** Chain + checkpoints under this node's key, and (entity nodes) the keepers' copy. */
  auditVerify: () => Promise<AuditVerdict>
  /** Every entry after `since`, one JSON text per entry (checkpoints included), read a page at a time. */
  auditExport: (since: number) => Iterable<string>
  metrics: () => Promise<{ contentType: string, text: string }>
  peers: () => PeerView[]
  dial: (multiaddr: string) => Promise<PeerView>
  sync: (groupId: GroupId) => Promise<{ peers: SyncPeerReport[] }>
  /**
   * Where a keeper or member just added can be reached (a multiaddr with /p2p/,
   * or a bare peer ID), so the group's delivery goes there at once; no-op without network.
   */
  deliveryHint: (groupId: GroupId, to: { peerId: string } | { entityId: string }, address: string) => void
  /** INVALID_INPUT unless `addr` is a multiaddr (of `peerId`, when given) or a bare peer ID. */
  checkAddress: (addr: string, peerId?: string) => void
  /** Live events; `since(lastEventId)` replays what a reconnecting client missed. */
  events: { subscribe: (fn: (e: LoggedEvent) => void) => () => void, since: (lastEventId: string | undefined) => { events: LoggedEvent[], gap: boolean } }
  /** GET /groups/:gid/replication */
  replication: (groupId: GroupId) => ReplicationPeer[]
  /** Recent and unfinished background jobs, newest first. */
  jobs: (limit: number) => JobView[]
  /** POST /shutdown: the daemon stops as on SIGTERM, after this request is answered. */
  shutdown: () => void
}
