/**
 * The shapes the HTTP API answers with, as TypeBox schemas: each one is at once
 * a JSON Schema (the OpenAPI document, the tests' response checks, ajv) and a
 * static type (`Static<typeof X>`, the typed client). Named models carry a
 * `title`: the OpenAPI document lists them once under components.schemas.
 *
 * Objects are left open (no additionalProperties: false) so that a newer
 * daemon may add a field without breaking an older client; the test suite
 * closes them when it checks real responses, so an undocumented field fails
 * there (test/helpers/openapi-check.ts).
 */
import { Type as T, type Static, type TSchema } from '@sinclair/typebox'

const model = <S extends TSchema>(title: string, s: S): S => Object.assign(s, { title })

export const Iso = T.String({ description: 'ISO 8601 time in UTC, e.g. 2026-12-01T12:00:00.000Z' })
export const GroupId = T.String({ format: 'uuid', description: 'group ID (random UUID v4)' })
export const ItemId = T.String({ format: 'uuid', description: 'item ID (UUID)' })
export const EntityId = T.String({ pattern: '^cairn1[02-9ac-hj-np-z]+$', description: 'entity ID (bech32m of the Ed25519 public key, prefix cairn1)' })
export const PeerId = T.String({ minLength: 1, description: 'libp2p peer ID of a node' })
export const Count = T.Integer({ minimum: 0 })
export const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()])

export const Culture = T.Union([T.Literal('chatty'), T.Literal('taciturn')], { description: 'chatty: pushed at once + anti-entropy every 60 s; taciturn: anti-entropy only' })
export const Role = T.Union([T.Literal('owner'), T.Literal('admin'), T.Literal('member'), T.Literal('viewer')])
export const Approval = T.Union([T.Literal('auto'), T.Literal('manual')])
/** Any JSON value (an item's content). */
export const JsonValue = T.Unknown({ description: 'any JSON value' })
export const Meta = Nullable(T.Record(T.String(), T.Unknown(), { description: 'a JSON object of metadata' }))

export const ErrorBody = model('Error', T.Object({
  error: T.Object({
    code: T.String({ pattern: '^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$', description: 'stable UPPER_SNAKE code: what programs branch on' }),
    message: T.String({ description: 'what happened and what to do next, for people' })
  }, { additionalProperties: true })
}))

export const Health = T.Object({ status: T.Literal('ok') })

export const Status = model('Status', T.Object({
  peerId: PeerId,
  entityId: Nullable(EntityId),
  listenAddrs: T.Array(T.String(), { description: 'libp2p multiaddrs this node listens on' }),
  unlocked: T.Boolean(),
  keeper: T.Boolean(),
  personalGroupId: Nullable(GroupId),
  counts: T.Object({ groups: Count, items: Count, peers: Count }),
  version: T.String(),
  warnings: T.Optional(T.Array(T.Object({
    code: T.String({ description: 'NO_KEEPER · NO_KEEPER_CONNECTED · NOT_ON_A_KEEPER · INTEGRITY' }),
    message: T.String(),
    groupId: T.Optional(GroupId)
  }), { description: 'what an operator should look at: a group no keeper holds or none is connected to, records no keeper holds yet, a failed integrity check' }))
}))

export const Peer = model('Peer', T.Object({
  peerId: PeerId, addrs: T.Array(T.String()),
  entityId: T.Optional(T.String({ description: 'the entity the peer serves, once its signed binding was seen' })),
  keeper: T.Optional(T.Boolean({ description: 'the peer said (hello protocol) that it is a keeper' }))
}))
export const Peers = T.Object({ peers: T.Array(Peer) })

export const GroupSummary = model('GroupSummary', T.Object({
  id: GroupId,
  name: Nullable(T.String({ description: 'null on a keeper: names travel encrypted' })),
  culture: Culture,
  role: T.Union([Role, T.Literal('keeper')]),
  keyVersion: T.Integer({ minimum: 1 }),
  memberCount: Count, keeperCount: Count, itemCount: Count,
  appendOnly: T.Boolean(),
  personal: T.Boolean({ description: 'the personal group made at init: only this entity and its keepers' }),
  circle: T.Boolean({ description: 'a circle: its key is split K-of-N among the members' })
}))
export const GroupList = T.Object({ groups: T.Array(GroupSummary) })

export const CircleInfo = T.Object({
  threshold: T.Integer({ minimum: 1 }),
  members: T.Array(EntityId),
  approval: T.Optional(T.String()),
  unsealed: T.Optional(T.Boolean()),
  expiresAt: T.Optional(Nullable(Iso)),
  pendingUnseal: T.Optional(T.Object({ collected: Count, needed: Count, waiting: T.Array(EntityId), deadline: Iso }, { description: 'an unseal under way, waiting for holders who approve by hand' }))
})

export const Member = T.Object({
  entityId: EntityId, role: Role,
  state: T.Union([T.Literal('invited'), T.Literal('active')], { description: 'invited: asked, not yet in the group (it holds nothing of it until it accepts)' }),
  expiresAt: T.Optional(Iso)
})

export const Group = model('Group', T.Object({
  id: GroupId,
  name: Nullable(T.String()),
  culture: Culture,
  appendOnly: T.Boolean(),
  personal: T.Boolean(),
  descriptorVersion: T.Integer({ minimum: 1 }),
  keyVersion: T.Integer({ minimum: 1 }),
  role: T.Union([Role, T.Literal('keeper')]),
  members: T.Array(Member),
  keepers: T.Array(PeerId),
  circle: T.Optional(CircleInfo)
}))
export const GroupWithJob = T.Composite([Group, T.Object({ jobId: T.String({ description: 'the re-encryption job: GET /api/v1/jobs/{jobId}' }) })])

export const JobState = T.Union([T.Literal('queued'), T.Literal('running'), T.Literal('done'), T.Literal('failed')])
export const Job = model('Job', T.Object({
  id: T.String(), kind: T.String(), groupId: GroupId, state: JobState,
  done: Count, total: Count, error: T.Optional(T.String()), createdAt: Iso, updatedAt: Iso
}))
export const JobStarted = T.Composite([Job, T.Object({ jobId: T.String() })])
export const JobList = T.Object({ jobs: T.Array(Job, { description: 'newest first' }) })

export const ReplicationPeer = model('ReplicationPeer', T.Object({
  peerId: T.Union([PeerId, T.Null()], { description: 'null: a member none of whose nodes is known yet' }),
  kind: T.Union([T.Literal('keeper'), T.Literal('member')]),
  entityId: T.Optional(EntityId),
  connected: T.Boolean(),
  delivered: T.Boolean({ description: 'the group descriptor (and a member\'s keys) reached it' }),
  behind: T.Integer({ minimum: 0, description: 'records held here that the peer lacked at the last reconciliation, plus those it missed since (0 = in sync)' }),
  lastSyncAt: Nullable(Iso),
  lastError: Nullable(T.String())
}))
export const Replication = T.Object({ peers: T.Array(ReplicationPeer) })

export const SyncPeer = T.Object({
  peerId: PeerId, groupId: T.Optional(GroupId),
  sent: Count, received: Count, bytes: Count,
  reconcileBytes: T.Optional(Count), roundTrips: Count,
  error: T.Optional(T.String())
})
export const SyncResult = T.Object({ peers: T.Array(SyncPeer) })

export const WriteResult = model('WriteResult', T.Object({
  id: ItemId, groupId: GroupId, author: EntityId, keyVersion: T.Integer({ minimum: 1 }), updatedAt: Iso,
  contentHash: T.String({ pattern: '^[0-9a-f]{64}$' })
}))
export const DeleteResult = T.Object({ id: ItemId, groupId: GroupId, deleted: T.Literal(true), updatedAt: Iso })

export const ProvenanceEntry = T.Object({
  action: T.Union([T.Literal('created'), T.Literal('modified'), T.Literal('reencrypted'), T.Literal('deleted'), T.Literal('shared-from'), T.Literal('imported-from')]),
  by: EntityId, at: Iso, hash: T.String(), signature: T.String(), keyVersion: T.Integer({ minimum: 1 }),
  source: T.Optional(T.Object({ groupId: GroupId, itemId: ItemId, hash: T.String(), author: T.Optional(EntityId) })),
  imported: T.Optional(T.Literal(true, { description: 'an entry of the exported item\'s history, carried over by an import' }))
})

const Hash = T.String({ pattern: '^[0-9a-f]{64}$' })
/** An entry's place in an append-only group's log (docs/RECORDS.md, "Append-only entries"). */
export const EntryView = T.Object({
  commitment: T.String({ pattern: '^[0-9a-f]{64}$', description: 'hex entry commitment E (what children link; survives re-encryption)' }),
  parents: T.Array(Hash, { description: 'hex commitments of the heads this entry saw' }),
  corrects: T.Optional(T.String({ description: 'the entry this one corrects (its ID; hex commitment if not held here)' })),
  redacts: T.Optional(T.String({ description: 'the entry this one redacts (its ID; hex commitment if not held here)' }))
})
const Amendment = T.Object({ entry: ItemId, by: EntityId, at: Iso })

export const Item = model('Item', T.Object({
  id: ItemId, groupId: GroupId, type: T.String(), content: JsonValue, meta: Meta,
  author: EntityId, createdAt: Iso, updatedAt: Iso, keyVersion: T.Integer({ minimum: 1 }),
  contentHash: T.String({ description: 'hex SHA-256 of the served document; empty when redacted' }), provenance: T.Array(ProvenanceEntry),
  entry: T.Optional(EntryView),
  redacted: T.Optional(T.Composite([Amendment], { description: 'a redaction in force: content and meta are null, the entry keeps its place' })),
  corrected: T.Optional(T.Composite([Amendment, T.Object({ original: T.Object({ type: T.String(), content: JsonValue, meta: Meta }) })], { description: 'corrections in force: type, content and meta are the latest correction\'s; original is the entry\'s own' }))
}))
export const UnreadableItem = T.Object({ id: ItemId, error: T.Object({ code: T.String(), message: T.String() }) }, { description: 'an item this node holds but cannot decrypt now' })
export const ItemPage = T.Object({ items: T.Array(T.Union([Item, UnreadableItem])), nextCursor: Nullable(T.String()) })

/** One line of GET /api/v1/export (JSON Lines). */
export const ExportLine = T.Union([
  T.Composite([Item, T.Object({ hash: T.String(), groupName: Nullable(T.String()) })]),
  T.Object({ id: ItemId, groupId: GroupId, error: T.Object({ code: T.String(), message: T.String() }) })
])

export const RawItem = model('RawItem', T.Object({
  id: T.String(), kind: T.String(), keyVersion: T.Integer({ minimum: 0 }), author: Nullable(EntityId), signer: T.String(),
  updatedAt: Iso, tombstone: T.Boolean(), size: Count, hash: T.String(),
  ciphertext: T.String({ description: 'base64; empty for a tombstone' })
}))
export const RawPage = T.Object({ items: T.Array(RawItem), nextCursor: Nullable(T.String()) })

export const SearchHit = T.Object({ itemId: ItemId, groupId: GroupId, snippet: T.String({ description: 'matched words in [brackets]' }), score: T.Number({ description: 'BM25 relevance, higher is better' }) })
export const SearchResult = T.Object({
  results: T.Array(SearchHit),
  partial: T.Boolean({ description: 'true when some matches may be missing: the time budget ran out before every match was ranked (narrow the query), or the search index is still being built after an unlock (ask again in a moment)' })
})

export const AuditEntry = T.Object({ seq: T.Integer({ minimum: 1 }), at: Iso, kind: T.String(), hash: T.String(), prevHash: T.String() },
  { additionalProperties: true, description: 'the fields beyond these depend on `kind`' })
export const AuditPage = T.Object({ entries: T.Array(AuditEntry) })
export const AuditKeepers = T.Object({
  refreshed: T.Boolean({ description: 'whether the copy was refreshed from a keeper just now (false: the copy last synced)' }),
  checkpoints: Count, newestUpTo: Count, ok: T.Boolean(),
  brokenAt: T.Optional(T.Integer({ minimum: 1 })),
  reason: T.Optional(T.Union([T.Literal('truncated'), T.Literal('rewritten'), T.Literal('foreign-key')])),
  error: T.Optional(T.String({ description: 'why the copy could not be refreshed' })),
  noKeeper: T.Optional(T.Literal(true, { description: 'the personal group has no keeper: no copy exists, the log is checked against itself only' }))
}, { description: 'the local log against the signed checkpoints the personal group\'s keepers hold (entity nodes)' })
const AUDIT_BREAKS = ['gap', 'prev-mismatch', 'hash-mismatch', 'checkpoint-malformed', 'checkpoint-mismatch', 'checkpoint-foreign-key', 'checkpoint-bad-signature', 'truncated', 'rewritten', 'foreign-key'] as const
export const AuditVerify = model('AuditVerify', T.Object({
  ok: T.Boolean(), entries: Count, brokenAt: T.Optional(T.Integer({ minimum: 1 })),
  reason: T.Optional(T.Union(AUDIT_BREAKS.map(r => T.Literal(r)), { description: 'what broke at brokenAt (docs/AUDIT.md names each)' })),
  checkpoints: T.Integer({ minimum: 0, description: 'checkpoints that verified under this node\'s key' }),
  signedUpTo: T.Integer({ minimum: 0, description: 'the last entry a verified checkpoint covers (0: none)' }),
  tail: T.Object({ seq: Count, hash: T.String() }, { description: 'the last entry read that verified' }),
  keepers: T.Optional(AuditKeepers)
}))

export const GroupVerify = model('GroupVerify', T.Object({
  ok: T.Boolean(),
  records: T.Integer({ minimum: 0, description: 'records checked, every kind' }),
  heads: T.Array(Hash, { description: 'append-only groups: hex commitments no entry names, sorted (the same on every node holding the same entries)' }),
  problems: T.Array(T.Object({
    recordId: T.String(), kind: T.String(),
    problem: T.String({ description: 'bad-signature, a gate\'s reject reason, missing-parent, content-mismatch, … (docs/RECORDS.md)' }),
    ref: T.Optional(T.String({ description: 'the entry or commitment the problem refers to' }))
  })),
  appendOnly: T.Boolean(),
  unlinked: T.Integer({ minimum: 0, description: 'entries written before links existed' }),
  content: T.Union([T.Literal('checked'), T.Literal('no-key'), T.Literal('not-append-only')], { description: 'whether entry contents were checked against their commitments (keepers: no-key)' })
}))

const Entities = T.Array(EntityId)
export const UnsealResult = T.Object({
  groupId: GroupId, keyVersion: T.Integer({ minimum: 1 }), state: T.Literal('unsealed'), sharesCollected: Count, threshold: T.Integer({ minimum: 1 }),
  collected: Count, needed: Count, from: Entities, expiresAt: Iso, badShares: T.Array(T.Object({ entityId: EntityId })),
  approved: T.Array(EntityId, { description: 'holders that released a share (at once or after a person approved)' }),
  denied: Entities, noAnswer: Entities, refused: T.Array(T.Object({ entityId: EntityId, reason: T.String() }))
})
export const HolderProgress = T.Object({
  entityId: EntityId,
  state: T.Union(['own', 'asking', 'waiting', 'granted', 'approved', 'denied', 'no-answer', 'refused', 'unreachable', 'bad-share', 'cancelled'].map(s => T.Literal(s))),
  reason: T.Optional(T.String()), waitingUntil: T.Optional(Iso)
})
const progressFields = {
  groupId: GroupId, keyVersion: T.Integer({ minimum: 1 }),
  collected: Count, needed: Count, startedAt: Iso, deadline: Iso, holders: T.Array(HolderProgress),
  approved: Entities, denied: Entities, waiting: T.Array(EntityId, { description: 'holders still asked or waiting for a person' }), noAnswer: Entities
}
/** 202 from POST …/unseal while holders wait for a person. */
export const UnsealPending = T.Object({ ...progressFields, state: T.Literal('pending') })
export const UnsealProgress = T.Union([
  T.Object({
    ...progressFields,
    state: T.Union([T.Literal('pending'), T.Literal('unsealed'), T.Literal('failed'), T.Literal('cancelled')]),
    result: T.Optional(UnsealResult),
    error: T.Optional(T.Object({ code: T.String(), message: T.String() }))
  }),
  T.Object({ groupId: GroupId, state: T.Union([T.Literal('sealed'), T.Literal('unsealed')]), expiresAt: Nullable(Iso) })
], { description: 'an unseal under way or ended within 10 minutes, or else whether the circle is unsealed now' })
export const CancelResult = T.Object({ cancelled: T.Boolean({ description: 'false when no unseal was under way' }) })
export const ImportResult = T.Object({
  groupId: GroupId, imported: Count, duplicates: Count, invalid: Count,
  items: T.Array(T.Object({
    sourceId: Nullable(T.String()), status: T.Union([T.Literal('imported'), T.Literal('duplicate'), T.Literal('invalid')]),
    id: T.Optional(ItemId), reason: T.Optional(T.String())
  }))
})
export const SealResult = T.Object({ sealed: T.Boolean({ description: 'false when it was not unsealed' }) })
export const ApprovalResult = T.Object({ groupId: GroupId, policy: Approval })
export const ShareRequest = T.Object({
  id: T.String(), groupId: GroupId, from: EntityId, peerId: PeerId,
  keyVersion: T.Integer({ minimum: 1, description: 'the first key version asked for' }),
  keyVersions: T.Array(T.Integer({ minimum: 1 }), { description: 'every key version asked for' }),
  receivedAt: Iso, expiresAt: Iso, state: T.Union([T.Literal('pending'), T.Literal('approved'), T.Literal('denied'), T.Literal('expired')])
})
export const ShareRequests = T.Object({ requests: T.Array(ShareRequest) })
export const Decision = T.Object({ id: T.String(), state: T.String() })

export const Invite = model('Invite', T.Object({
  id: T.String({ description: 'the invitation (its record hash)' }), groupId: GroupId,
  name: Nullable(T.String({ description: 'the group\'s name, opened with your key (null when it cannot be)' })),
  from: EntityId, role: Role, circle: T.Boolean({ description: 'a circle: accepting makes you a share holder' }),
  createdAt: Iso, expiresAt: T.String({ description: 'when the invitation lapses unanswered (ISO 8601)' }),
  membershipExpiresAt: Nullable(Iso), state: T.Union([T.Literal('pending'), T.Literal('accepted'), T.Literal('declined')])
}))
export const InviteList = T.Object({ invites: T.Array(Invite) })
export const InviteAccepted = T.Object({ groupId: GroupId, state: T.Literal('active') })
export const InviteDeclined = T.Object({ groupId: GroupId, state: T.Literal('declined') })
export const LeaveResult = T.Object({ left: T.Literal(true) })
export const DeleteGroupResult = T.Object({ deleted: T.Literal(true) })
export const CopyOutcome = T.Object({
  groupId: GroupId, itemId: ItemId,
  action: T.Union([T.Literal('deleted'), T.Literal('already-deleted'), T.Literal('refused')]),
  reason: T.Optional(T.String())
})
export const ErasureReport = T.Object({
  itemId: ItemId, groupId: GroupId,
  reports: T.Array(T.Object({ by: EntityId, at: Iso, copies: T.Array(CopyOutcome) }), { description: 'one per node that held copies and answered' })
})

/** One Server-Sent Event's data (IDs and kinds, never content). The SSE `event:` field repeats `type`. */
export const NodeEvent = model('NodeEvent', T.Object({
  type: T.String({ description: 'stored · rejected · job · unlocked · locked · group-added · peer-connected · peer-disconnected · delivery-done · delivery-failed · synced · sync-failed · share-request · unseal · sealed · key-rotated · member-added · keeper-added · gap · …' }),
  groupId: T.Optional(GroupId),
  id: T.Optional(T.String({ description: 'record ID (stored) or job ID (job)' })),
  kind: T.Optional(T.String({ description: 'record kind (stored), reject reason (rejected), job state (job)' })),
  origin: T.Optional(T.String({ description: 'local · push · sync · delivery' })),
  peerId: T.Optional(T.String({ description: 'peer-connected, peer-disconnected, delivery-done, synced, sync-failed' })),
  entityId: T.Optional(T.String()),
  sent: T.Optional(Count), received: T.Optional(Count),
  done: T.Optional(Count), total: T.Optional(Count),
  collected: T.Optional(Count), needed: T.Optional(Count),
  error: T.Optional(T.String({ description: 'delivery-failed, sync-failed, a failed job' })),
  at: Iso
}, { additionalProperties: true }))

export type StatusView = Static<typeof Status>
export type PeerView = Static<typeof Peer>
export type GroupSummaryView = Static<typeof GroupSummary>
export type GroupView = Static<typeof Group>
export type JobView = Static<typeof Job>
export type ReplicationPeerView = Static<typeof ReplicationPeer>
export type ItemView = Static<typeof Item>
export type WriteResultView = Static<typeof WriteResult>
export type RawItemView = Static<typeof RawItem>
export type SearchHitView = Static<typeof SearchHit>
export type AuditEntryView = Static<typeof AuditEntry>
export type AuditVerifyView = Static<typeof AuditVerify>
export type GroupVerifyView = Static<typeof GroupVerify>
export type NodeEventView = Static<typeof NodeEvent>
export type UnsealResultView = Static<typeof UnsealResult>
export type UnsealPendingView = Static<typeof UnsealPending>
export type UnsealProgressView = Static<typeof UnsealProgress>
export type ImportResultView = Static<typeof ImportResult>
export type ShareRequestView = Static<typeof ShareRequest>
export type InviteView = Static<typeof Invite>
export type ErasureReportView = Static<typeof ErasureReport>
export type CultureName = Static<typeof Culture>
export type RoleName = Static<typeof Role>
export type ApprovalPolicy = Static<typeof Approval>
