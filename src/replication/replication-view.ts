/**
 * `GET /api/v1/groups/:gid/replication`: one row per keeper and per member node
 * of a group, as this node sees it (SPEC §7.1, added 2026-12):
 *
 *   { peerId, kind: "keeper" | "member", entityId?, connected, delivered, behind, lastSyncAt, lastError }
 *
 * - `delivered`: no descriptor delivery is owed to it (outbox.ts) — for a member,
 *   to its entity, whichever of its nodes took it.
 * - `behind`, `lastSyncAt`: replication-state.ts.
 * - `lastError`: the newest of the last delivery error, the last session or dial
 *   error; null once the peer took a delivery or completed a session since.
 * - A member none of whose nodes is known yet is one row with `peerId: null`; so
 *   is an invited entity whose invitation is still owed to its node (not delivered).
 */
import { equalBytes } from '../crypto/bytes.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import type { ReplicationState } from './replication-state.js'

export interface ReplicationPeer {
  peerId: string | null
  kind: 'keeper' | 'member'
  entityId?: string
  connected: boolean
  delivered: boolean
  behind: number
  lastSyncAt: string | null
  lastError: string | null
}

export interface ReplicationViewDeps {
  self: string
  /** This node's entity (absent on keepers and while locked). */
  me: Uint8Array | undefined
  keepers: string[]
  members: Uint8Array[]
  nodesOf: (pub: Uint8Array) => string[]
  connected: (peer: string) => boolean
  state: ReplicationState
  /** Deliveries still owed: target (`peer:…`, `entity:…`, `invite:…`) → last error. */
  pending: Map<string, { lastError: string | null }>
  /** The last failed dial of a peer not connected now. */
  dialError: (peer: string) => string | undefined
  /** Records of the group held here (what a never-reconciled peer lacks). */
  records: number
}

export function replicationView (gid: GroupId, d: ReplicationViewDeps): ReplicationPeer[] {
  const out: ReplicationPeer[] = []
  const row = (peer: string, kind: 'keeper' | 'member', target: string, entityId?: string): ReplicationPeer => {
    const s = d.state.view(gid, peer)
    const connected = d.connected(peer)
    const owed = d.pending.get(target)
    const lastError = owed?.lastError ?? s.lastError ?? (connected ? undefined : d.dialError(peer)) ?? null
    return { peerId: peer, kind, ...(entityId !== undefined ? { entityId } : {}), connected, delivered: owed === undefined, behind: s.behind, lastSyncAt: s.lastSyncAt, lastError }
  }
  for (const k of d.keepers) if (k !== d.self) out.push(row(k, 'keeper', `peer:${k}`))
  for (const pub of d.members) {
    const entityId = entityIdFromPublicKey(pub)
    const target = `entity:${entityId}`
    const nodes = d.nodesOf(pub).filter(p => p !== d.self)
    const mine = d.me !== undefined && equalBytes(pub, d.me)
    if (nodes.length === 0) {
      // Our own entity with no other device is not a peer; another member with no known node is pending.
      if (mine) continue
      const owed = d.pending.get(target)
      out.push({ peerId: null, kind: 'member', entityId, connected: false, delivered: owed === undefined, behind: d.records, lastSyncAt: null, lastError: owed?.lastError ?? null })
      continue
    }
    for (const p of nodes) out.push(row(p, 'member', mine ? `peer:${p}` : target, entityId))
  }
  // An invited entity is not in the descriptor yet: while its invitation is still
  // owed to its node, it is a member row not delivered, with the last error.
  const listed = new Set<string>(d.members.map(pub => entityIdFromPublicKey(pub)))
  for (const [target, owed] of d.pending) {
    if (!target.startsWith('invite:')) continue
    const entityId = target.slice('invite:'.length)
    if (listed.has(entityId)) continue
    out.push({ peerId: null, kind: 'member', entityId, connected: false, delivered: false, behind: d.records, lastSyncAt: null, lastError: owed.lastError })
  }
  return out
}

/** What the node tells its operator (SSE events, log lines). */
export type ReplicationEvent =
  | { type: 'peer-connected', peerId: string, entityId?: string, keeper: boolean }
  | { type: 'peer-disconnected', peerId: string }
  | { type: 'delivered', groupId: GroupId, peerId: string, target: string }
  | { type: 'delivery-failed', groupId: GroupId, target: string, error: string }
  | { type: 'synced', groupId: GroupId, peerId: string, sent: number, received: number }
  | { type: 'sync-failed', groupId: GroupId, peerId: string, error: string }
