/**
 * What the HTTP API needs from the node. node/ implements it; api/ never
 * imports concrete services, only these types.
 */
import type { GroupService, GroupView } from '../groups/group-service.js'
import type { GroupVerdict } from '../groups/group-verify.js'
import type { ItemService } from '../items/item-service.js'
import type { JobView } from '../jobs/job-runner.js'
import type { AuditEntry, AuditVerdict } from '../audit/audit-log.js'
import type { SearchHit } from '../search/search-index.js'
import type { CircleService } from '../circles/circle-service.js'

export interface StatusView {
  peerId: string
  entityId: string | null
  listenAddrs: string[]
  unlocked: boolean
  keeper: boolean
  personalGroupId: string | null
  counts: { groups: number, items: number, peers: number }
  version: string
}

export interface PeerView { peerId: string, addrs: string[], entityId?: string }

export interface SyncPeerReport { peerId: string, sent: number, received: number, bytes: number, roundTrips: number, error?: string }

export interface NodeEvent { type: string, groupId?: string, id?: string, kind?: string, origin?: string, at: string }

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
  /** Re-check every stored record of a group (signatures, rights, the append-only DAG; content with a key). */
  groupVerify: (groupId: string) => Promise<GroupVerdict>
  /** Run a read; with audit.reads its audit entry has committed before the answer goes out (group commit). */
  read: <T>(fn: () => T) => Promise<T>
  job: (id: string) => JobView | undefined
  search: (q: string, limit: number, groupId?: string) => SearchHit[]
  auditList: (since: number, limit: number) => AuditEntry[]
  /** Chain + checkpoints under this node's key, and (entity nodes) the keepers' copy. */
  auditVerify: () => Promise<AuditVerdict>
  /** Every entry after `since`, one JSON text per entry (checkpoints included), read a page at a time. */
  auditExport: (since: number) => Iterable<string>
  metrics: () => Promise<{ contentType: string, text: string }>
  peers: () => PeerView[]
  dial: (multiaddr: string) => Promise<PeerView>
  sync: (groupId: string) => Promise<{ peers: SyncPeerReport[] }>
  /** Deliver/announce after a membership or keeper change (replication); no-op without network. */
  onGroupChanged: (groupId: string, hint?: { multiaddr?: string, entityId?: string }) => Promise<void>
  subscribe: (fn: (e: NodeEvent) => void) => () => void
}
