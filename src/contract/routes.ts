/**
 * The HTTP API as data (SPEC §7.1): one entry per operation, keyed by its
 * operationId. The server registers, validates and documents routes from
 * these entries (src/api/), the typed client builds its requests and types
 * from them (src/client/): a route changes here, in one place.
 *
 * `errors` lists the statuses this route can answer besides those every
 * route can (400 bad input, 401 token, 403 Host, 404 no such route or
 * object; 413 when it takes a body).
 */
import { Type as T, type TObject, type TSchema } from '@sinclair/typebox'
import * as B from './bodies.js'
import * as M from './models.js'

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly summary: string
  readonly description?: string
  readonly tag: 'node' | 'network' | 'groups' | 'items' | 'circles' | 'membership' | 'audit'
  /** Default true: only health is open. */
  readonly auth?: boolean
  readonly params?: TObject
  readonly query?: TObject
  readonly body?: TSchema
  /** Success status, default 200. */
  readonly status?: number
  readonly response: TSchema
  /** A 202 answer besides the success: the work goes on (follow it as the description says). */
  readonly accepted?: TSchema
  /** Default application/json. */
  readonly contentType?: string
  readonly errors?: readonly number[]
}

const gid = T.Object({ gid: M.GroupId })
const itemId = T.Object({ id: M.ItemId })
/** Group routes that need the vault open: 403 role, 423 locked. */
const GROUP = [403, 409, 410, 423] as const
const ITEM = [403, 409, 410, 422, 423] as const

export const routes = {
  // ---- node ----
  health: { method: 'GET', path: '/api/v1/health', tag: 'node', auth: false, summary: 'Liveness (no token)', response: M.Health },
  getStatus: { method: 'GET', path: '/api/v1/status', tag: 'node', summary: 'Node identity, addresses, lock state and counts', response: M.Status },
  unlock: { method: 'POST', path: '/api/v1/unlock', tag: 'node', summary: 'Unlock the vault with the passphrase (401 BAD_PASSPHRASE when wrong)', body: B.UnlockBody, response: T.Object({ unlocked: T.Literal(true) }), errors: [409, 429] },
  lock: { method: 'POST', path: '/api/v1/lock', tag: 'node', summary: 'Lock the vault; keys are zeroized', response: T.Object({ unlocked: T.Literal(false) }), errors: [409] },
  shutdown: { method: 'POST', path: '/api/v1/shutdown', tag: 'node', status: 202, summary: 'Stop the daemon, as on SIGTERM (after answering)', response: T.Object({ stopping: T.Literal(true) }) },
  listJobs: { method: 'GET', path: '/api/v1/jobs', tag: 'groups', summary: 'Background jobs (re-encryption after a rotation), newest first', query: B.JobsQuery, response: M.JobList },
  getJob: { method: 'GET', path: '/api/v1/jobs/:jobId', tag: 'groups', summary: 'Progress of a background job (rotation re-encryption)', params: T.Object({ jobId: T.String({ maxLength: 200 }) }), response: M.Job },
  getMetrics: { method: 'GET', path: '/metrics', tag: 'node', summary: 'Prometheus metrics (token required)', response: T.String({ description: 'Prometheus text exposition format' }), contentType: 'text/plain' },
  getOpenApi: { method: 'GET', path: '/api/v1/openapi.json', tag: 'node', summary: 'This document', response: T.Object({ openapi: T.String(), paths: T.Object({}, { additionalProperties: true }) }, { additionalProperties: true }) },
  events: {
    method: 'GET', path: '/api/v1/events', tag: 'node', summary: 'Server-Sent Events: records stored, jobs, unseals (IDs only)',
    description: 'A text/event-stream. Each event has `id: <boot>-<seq>`, `event: <type>` and `data: <NodeEvent as JSON>`; comment lines (`: ping`) keep the connection open every 15 s. Reconnecting with a `Last-Event-ID` header (or `?lastEventId=`) replays the events missed since that ID, from a ring of the newest 2,000; an ID that fell out of it (or from an earlier run of the daemon) gets every buffered event after one `gap` event. HEAD answers the headers and ends.',
    query: B.EventsQuery, response: M.NodeEvent, contentType: 'text/event-stream'
  },

  // ---- network ----
  listPeers: { method: 'GET', path: '/api/v1/peers', tag: 'network', summary: 'Connected peers', response: M.Peers },
  dialPeer: { method: 'POST', path: '/api/v1/peers', tag: 'network', summary: 'Dial a peer by multiaddr', body: B.DialBody, response: M.Peers, errors: [503, 504] },
  getReplication: {
    method: 'GET', path: '/api/v1/groups/:gid/replication', tag: 'network', params: gid, response: M.Replication, errors: [403, 423],
    summary: 'Per keeper and member node: connected, descriptor delivered, records behind, last sync, last error'
  },
  syncGroup: { method: 'POST', path: '/api/v1/groups/:gid/sync', tag: 'network', summary: 'Run anti-entropy for this group now', params: gid, response: M.SyncResult, errors: [410, 503, 504] },

  // ---- groups ----
  createGroup: { method: 'POST', path: '/api/v1/groups', tag: 'groups', summary: 'Create a group (or a circle, with `circle`)', body: B.CreateGroupBody, status: 201, response: M.Group, errors: [...GROUP, 503] },
  listGroups: { method: 'GET', path: '/api/v1/groups', tag: 'groups', summary: 'Groups this node holds', response: M.GroupList },
  getGroup: { method: 'GET', path: '/api/v1/groups/:gid', tag: 'groups', summary: 'One group: members, keepers, versions', params: gid, response: M.Group, errors: [403, 410, 423] },
  addMember: {
    method: 'POST', path: '/api/v1/groups/:gid/members', tag: 'groups', params: gid, body: B.AddMemberBody, status: 201, response: M.Group, errors: [...GROUP, 503],
    summary: 'Invite a member (it starts state "invited" and is added once it accepts; it then receives every key version), or change a member\'s role',
    description: 'peerId/multiaddr: where its node is, if not connected; expiresAt: when its membership ends (a new key version without anyone online to click)'
  },
  removeMember: { method: 'DELETE', path: '/api/v1/groups/:gid/members/:entityId', tag: 'groups', summary: 'Remove a member: new key version, re-encryption job', params: T.Object({ gid: M.GroupId, entityId: T.String({ maxLength: 100 }) }), response: M.GroupWithJob, errors: [...GROUP, 503] },
  addKeeper: { method: 'POST', path: '/api/v1/groups/:gid/keepers', tag: 'groups', summary: 'Add a keeper by peer ID (and optionally its address)', params: gid, body: B.AddKeeperBody, status: 201, response: M.Group, errors: GROUP },
  removeKeeper: { method: 'DELETE', path: '/api/v1/groups/:gid/keepers/:peerId', tag: 'groups', summary: 'Remove a keeper', params: T.Object({ gid: M.GroupId, peerId: T.String({ maxLength: 128 }) }), response: M.Group, errors: GROUP },
  verifyGroup: {
    method: 'GET', path: '/api/v1/groups/:gid/verify', tag: 'groups', params: gid, response: M.GroupVerify, errors: [403],
    summary: 'Re-check every stored record of the group: signatures, author rights against the descriptor chain, and for append-only groups the DAG (no missing parent, no edited entry); works on keepers (no key needed), members also check entry contents'
  },
  rotateGroup: { method: 'POST', path: '/api/v1/groups/:gid/rotate', tag: 'groups', summary: 'Rotate the group key; existing items are re-encrypted by a job', params: gid, status: 202, response: M.JobStarted, errors: GROUP },

  // ---- items ----
  createItem: { method: 'POST', path: '/api/v1/groups/:gid/items', tag: 'items', summary: 'Write an item (201 after the transaction commits)', params: gid, body: B.CreateItemBody, status: 201, response: M.WriteResult, errors: ITEM },
  listItems: { method: 'GET', path: '/api/v1/groups/:gid/items', tag: 'items', summary: 'Decrypted items, newest first', params: gid, query: B.ItemsQuery, response: M.ItemPage, errors: [403, 410, 422, 423] },
  listRaw: { method: 'GET', path: '/api/v1/groups/:gid/raw', tag: 'items', summary: 'Stored ciphertext envelopes (works on keepers)', params: gid, query: B.RawQuery, response: M.RawPage, errors: [403, 410, 423] },
  getItem: { method: 'GET', path: '/api/v1/items/:id', tag: 'items', summary: 'One item with its provenance chain', params: itemId, response: M.Item, errors: [403, 422, 423] },
  updateItem: { method: 'PUT', path: '/api/v1/items/:id', tag: 'items', summary: 'Replace an item\'s content (new signed version)', params: itemId, body: B.UpdateItemBody, response: M.WriteResult, errors: ITEM },
  deleteItem: { method: 'DELETE', path: '/api/v1/items/:id', tag: 'items', summary: 'Delete an item (signed tombstone; keepers purge the ciphertext)', params: itemId, response: M.DeleteResult, errors: ITEM },
  shareItem: { method: 'POST', path: '/api/v1/items/:id/share', tag: 'items', summary: 'Copy an item into another group, linked to its source', params: itemId, body: B.ShareItemBody, status: 201, response: M.WriteResult, errors: ITEM },
  exportItems: {
    method: 'GET', path: '/api/v1/export', tag: 'items', query: B.ExportQuery, response: M.ExportLine, contentType: 'application/x-ndjson', errors: [403, 410, 423],
    summary: 'JSON Lines of decrypted items with provenance, one item per line; header x-cairn-skipped names sealed circles left out'
  },
  importItems: {
    method: 'POST', path: '/api/v1/groups/:gid/import', tag: 'items', params: gid, body: B.ImportBody, response: M.ImportResult, errors: ITEM,
    summary: 'Import exported lines as new items of this group, keeping type, content, meta, creation time and provenance links (a line imported before is skipped)'
  },
  resolveIds: {
    method: 'GET', path: '/api/v1/resolve', tag: 'items', query: B.ResolveQuery, summary: 'Item IDs that start with a prefix (at most 10), for clients that take short IDs as git does',
    response: T.Object({ matches: T.Array(T.Object({ id: M.ItemId, groupId: M.GroupId })) })
  },
  search: { method: 'GET', path: '/api/v1/search', tag: 'items', summary: 'Full-text search over decrypted items (in-memory index)', query: B.SearchQuery, response: M.SearchResult, errors: [403, 423] },

  // ---- circles ----
  unsealCircle: {
    method: 'POST', path: '/api/v1/groups/:gid/unseal', tag: 'circles', params: gid, body: B.UnsealBody, response: M.UnsealResult, accepted: M.UnsealPending, errors: [403, 409, 410, 423, 503, 504],
    summary: 'Collect K shares from holders and rebuild the circle key in memory until seal or TTL',
    description: 'Waits up to waitSeconds (default 60) for holders who approve by hand, then answers 202 with the progress (an UnsealPending, state "pending"; follow it with GET). ' +
      '503 INSUFFICIENT_SHARES / BAD_SHARE names who denied and who did not answer.'
  },
  unsealProgress: {
    method: 'GET', path: '/api/v1/groups/:gid/unseal', tag: 'circles', params: gid, response: M.UnsealProgress, errors: [403, 409, 410, 423],
    summary: 'Unseal progress: collected/needed, each holder\'s answer (waiting for a person, approved, denied, no answer); after it ends, its outcome for 10 minutes'
  },
  cancelUnseal: { method: 'DELETE', path: '/api/v1/groups/:gid/unseal', tag: 'circles', params: gid, response: M.CancelResult, errors: [403, 409, 410, 423], summary: 'Cancel an unseal under way: requests still waiting at holders end at once' },
  sealCircle: { method: 'POST', path: '/api/v1/groups/:gid/seal', tag: 'circles', summary: 'Forget the circle key now (zeroized)', params: gid, response: M.SealResult, errors: [403, 409, 410, 423] },
  setApproval: { method: 'PUT', path: '/api/v1/groups/:gid/approval', tag: 'circles', summary: 'How this node answers share requests for a circle: auto or manual', params: gid, body: B.ApprovalBody, response: M.ApprovalResult, errors: [403, 409, 410, 423] },
  listShareRequests: { method: 'GET', path: '/api/v1/share-requests', tag: 'circles', summary: 'Share requests waiting for (or given) a decision on this node', response: M.ShareRequests },
  approveShareRequest: { method: 'POST', path: '/api/v1/share-requests/:id/approve', tag: 'circles', summary: 'Release this node\'s share to a waiting requester', params: T.Object({ id: T.String({ maxLength: 64 }) }), response: M.Decision, errors: [409, 423] },
  denyShareRequest: { method: 'POST', path: '/api/v1/share-requests/:id/deny', tag: 'circles', summary: 'Refuse a waiting share request (counts as no share)', params: T.Object({ id: T.String({ maxLength: 64 }) }), response: M.Decision, errors: [409, 423] },

  // ---- membership ----
  listInvites: {
    method: 'GET', path: '/api/v1/invites', tag: 'membership', response: M.InviteList, errors: [423],
    summary: 'Invitations this node\'s entity has not answered (the group\'s name opened for you); nothing of the group is stored before you accept'
  },
  acceptInvite: {
    method: 'POST', path: '/api/v1/invites/:id/accept', tag: 'membership', params: T.Object({ id: T.String({ maxLength: 64 }) }), response: M.InviteAccepted, errors: [409, 423],
    summary: 'Accept an invitation: a signed answer goes to the group; its admins add you and your node receives the group'
  },
  declineInvite: {
    method: 'POST', path: '/api/v1/invites/:id/decline', tag: 'membership', params: T.Object({ id: T.String({ maxLength: 64 }) }), response: M.InviteDeclined, errors: [409, 423],
    summary: 'Decline an invitation: a signed answer tells the inviter; the invitation is deleted here'
  },
  leaveGroup: {
    method: 'POST', path: '/api/v1/groups/:gid/leave', tag: 'membership', params: gid, response: M.LeaveResult, errors: GROUP,
    summary: 'Leave a group: a signed leave goes to its peers, this node purges its records and shreds its keys; its admins remove you with a new key version'
  },
  deleteGroup: {
    method: 'DELETE', path: '/api/v1/groups/:gid', tag: 'membership', params: gid, response: M.DeleteGroupResult, errors: GROUP,
    summary: 'Delete a group (owner): every member node and keeper purges its records and shreds its keys; the ID answers 410 GROUP_DELETED afterwards'
  },
  erasureReport: {
    method: 'GET', path: '/api/v1/items/:id/erasure', tag: 'items', params: itemId, response: M.ErasureReport, errors: [403, 410, 423],
    summary: 'After an item was deleted: what each node holding copies of it (shared into other groups) did with them — deleted, or refused and why'
  },

  // ---- audit ----
  listAudit: { method: 'GET', path: '/api/v1/audit', tag: 'audit', summary: 'Audit log entries after `since` (a sequence number), oldest first; or the newest, newest first, with order=desc', query: B.AuditQuery, response: M.AuditPage },
  verifyAudit: {
    method: 'GET', path: '/api/v1/audit/verify', tag: 'audit', response: M.AuditVerify,
    summary: 'Verify the audit hash chain, every checkpoint against this node\'s own key, and (entity nodes) the checkpoints held by the personal group\'s keepers; {ok:false, brokenAt, reason} names the first entry that was edited, removed or inserted'
  },
  exportAudit: {
    method: 'GET', path: '/api/v1/audit/export', tag: 'audit', query: B.AuditExportQuery, response: M.AuditEntry, contentType: 'application/x-ndjson',
    summary: 'The audit log as JSON Lines, streamed: one entry per line as in GET /api/v1/audit, checkpoints included (the response schema is one line)'
  }
} as const satisfies Record<string, RouteSpec>

export type Routes = typeof routes
export type OperationId = keyof Routes
