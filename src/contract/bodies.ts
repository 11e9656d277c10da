/**
 * Request bodies and query strings, as TypeBox schemas. The server validates
 * bodies with exactly these (fastify's ajv: no coercion, unknown fields
 * dropped); the typed client takes their static types as arguments.
 * Query strings are parsed by the handlers (src/api/params.ts) within the
 * bounds written here.
 */
import { Type as T, type TProperties } from '@sinclair/typebox'
import { Approval, Culture, Role } from './models.js'

const body = <P extends TProperties>(p: P) => T.Object(p, { additionalProperties: false })

export const UnlockBody = body({ passphrase: T.String({ minLength: 1, maxLength: 4096 }) })
export const DialBody = body({ multiaddr: T.String({ minLength: 1, maxLength: 1000, description: 'e.g. /ip4/10.0.0.2/tcp/9474/p2p/12D3KooW…' }) })
export const CreateGroupBody = body({
  name: T.String({ minLength: 1, maxLength: 200, description: 'travels encrypted: keepers never see it' }),
  culture: T.Optional(Culture),
  appendOnly: T.Optional(T.Boolean({ description: 'a signed hash-linked log: no edits or deletes' })),
  circle: T.Optional(body({
    threshold: T.Integer({ minimum: 1, maximum: 255, description: 'K: shares needed to unseal' }),
    members: T.Array(T.String({ maxLength: 100 }), { minItems: 1, maxItems: 255, description: 'entity IDs of the other members' }),
    approval: T.Optional(Approval)
  }))
})
export const AddMemberBody = body({
  entityId: T.String({ minLength: 1, maxLength: 100 }),
  role: T.Optional(Role),
  peerId: T.Optional(T.String({ maxLength: 128, description: 'the member\'s node, if not connected' })),
  multiaddr: T.Optional(T.String({ maxLength: 1000, description: 'where the member\'s node is, or its bare peer ID' })),
  expiresAt: T.Optional(T.String({ minLength: 1, maxLength: 40, description: 'ISO 8601: when the membership ends (removed with a new key version, nobody clicking)' }))
})
export const AddKeeperBody = body({ peerId: T.String({ minLength: 1, maxLength: 128 }), multiaddr: T.Optional(T.String({ maxLength: 1000 })) })
const itemFields = {
  content: T.Unknown({ description: 'any JSON value' }),
  type: T.Optional(T.String({ minLength: 1, maxLength: 100, description: 'default "note"; an update without type keeps it' })),
  meta: T.Optional(T.Union([T.Record(T.String(), T.Unknown()), T.Null()], { description: 'a JSON object; an update without meta keeps it' }))
}
export const CreateItemBody = body({
  ...itemFields,
  corrects: T.Optional(T.String({ maxLength: 64, description: 'append-only groups: the ID of the entry this one corrects (reads of it then serve this content)' })),
  redacts: T.Optional(T.String({ maxLength: 64, description: 'append-only groups: the ID of the entry this one redacts (its content is no longer served; its place in the log stays)' }))
})
export const UpdateItemBody = body(itemFields)
export const ShareItemBody = body({ toGroup: T.String({ maxLength: 64, description: 'target group ID' }) })
export const UnsealBody = body({
  ttlSeconds: T.Optional(T.Integer({ minimum: 1, maximum: 86400, description: 'how long the key stays in memory' })),
  waitSeconds: T.Optional(T.Integer({ minimum: 0, maximum: 3600, description: 'how long to wait for holders who approve by hand before answering 202 pending (default 60)' }))
})
export const ImportBody = body({ items: T.Array(T.Record(T.String(), T.Unknown()), { minItems: 1, maxItems: 1000, description: 'lines of a cairn export, parsed' }) })
export const ApprovalBody = body({ policy: Approval })

const limit = (max: number, def: number) => T.Optional(T.Integer({ minimum: 1, maximum: max, description: `1–${max}, default ${def}` }))
const cursor = T.Optional(T.String({ maxLength: 200, description: 'nextCursor of the previous page' }))

export const ItemsQuery = T.Object({ limit: limit(1000, 50), cursor, type: T.Optional(T.String({ maxLength: 100, description: 'only items of this type' })) })
export const RawQuery = T.Object({ limit: limit(1000, 100), cursor })
export const SearchQuery = T.Object({
  q: T.String({ minLength: 1, maxLength: 500, description: 'words to find: every word must appear (whole words, case- and accent-insensitive)' }),
  group: T.Optional(T.String({ maxLength: 64, description: 'only this group' })),
  limit: limit(200, 20)
})
export const AuditQuery = T.Object({
  since: T.Optional(T.Integer({ minimum: 0, maximum: 999_999_999, description: 'sequence number to start after (default 0)' })),
  limit: limit(1000, 100),
  order: T.Optional(T.Union([T.Literal('asc'), T.Literal('desc')], { description: 'asc (default): from `since` on, oldest first; desc: the newest entries, newest first (no `since`)' }))
})
export const JobsQuery = T.Object({ limit: limit(200, 20) })
export const ResolveQuery = T.Object({
  kind: T.Literal('item'),
  prefix: T.String({ minLength: 1, maxLength: 36, pattern: '^[0-9a-fA-F-]+$', description: 'the start of an item ID' })
})
export const ExportQuery = T.Object({ group: T.Optional(T.String({ maxLength: 64, description: 'only this group (default: every group this node can read)' })) })
export const AuditExportQuery = T.Object({
  since: T.Optional(T.Integer({ minimum: 0, maximum: 999_999_999, description: 'sequence number to start after (default 0: the whole log)' }))
})
export const EventsQuery = T.Object({
  group: T.Optional(T.String({ maxLength: 64, description: 'only events of this group' })),
  lastEventId: T.Optional(T.String({ maxLength: 64, description: 'resume after this event ID (`<boot>-<seq>`), as the Last-Event-ID header does; the header wins when both are sent' }))
})
