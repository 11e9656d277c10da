/**
 * What the HTTP API needs from the node. node/ implements it; api/ never
 * imports concrete services, only these types.
 */
import type { GroupId } from '../crypto/ids.js'
import type { GroupService, GroupView } from '../groups/group-service.js'
import type { ItemService } from '../items/item-service.js'
import type { Portability } from '../items/portability.js'
import type { JobView } from '../jobs/job-runner.js'
import type { AuditEntry } from '../audit/audit-log.js'
import type { SearchResult } from '../search/search-index.js'
import type { CircleService } from '../circles/circle-service.js'

export interface StatusView {
  peerId: string
  entityId: string | null
  listenAddrs: string[]
  unlocked: boolean
  keeper: boolean
  personalGroupId: GroupId | null
  counts: { groups: number, items: number, peers: number }
  version: string
}

export interface PeerView { peerId: string, addrs: string[], entityId?: string }

export interface SyncPeerReport { peerId: string, sent: number, received: number, bytes: number, roundTrips: number, error?: string }

/**
 * One SSE event. `share-request` (holder side: a request waits for this node's person,
 * or was decided; `id` is the request ID, `entityId` the requester) and `unseal`
 * (requester side: progress `collected`/`needed`, `kind` = pending | unsealed | failed | cancelled).
 */
export interface NodeEvent { type: string, groupId?: GroupId, id?: string, kind?: string, origin?: string, entityId?: string, collected?: number, needed?: number, at: string }

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
  /** Run a write in the next group-commit transaction; settles after it committed. */
  commit: <T>(fn: () => T) => Promise<T>
  job: (id: string) => JobView | undefined
  /** Bounded in time: `partial` is true when the budget ran out before every match was ranked. */
  search: (q: string, limit: number, groupId?: GroupId) => Promise<SearchResult>
  auditList: (since: number, limit: number) => AuditEntry[]
  auditVerify: () => { ok: boolean, entries: number, brokenAt?: number, reason?: string }
  metrics: () => Promise<{ contentType: string, text: string }>
  peers: () => PeerView[]
  dial: (multiaddr: string) => Promise<PeerView>
  sync: (groupId: GroupId) => Promise<{ peers: SyncPeerReport[] }>
  /**
   * Where a keeper or member just added can be reached (a multiaddr with /p2p/,
   * or a bare peer ID), so the group's delivery goes there; no-op without network.
   */
  deliveryHint: (groupId: GroupId, to: { peerId: string } | { entityId: string }, address: string) => void
  subscribe: (fn: (e: NodeEvent) => void) => () => void
}
