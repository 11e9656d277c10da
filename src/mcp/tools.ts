/**
 * The eight MCP tools of SPEC §7.2 (names and arguments are contract). Each
 * is a JSON Schema for its arguments and for its result (TypeBox, the result
 * schemas reused from the API contract where the answer is the API's), a
 * description written for the model that calls it, and a run() over the
 * typed client. Tools never touch the node directly: what an agent can do is
 * exactly what the daemon's API lets its token do.
 */
import { Type as T, type Static, type TSchema } from '@sinclair/typebox'
import type { CairnClient } from '../client/client.js'
import * as M from '../contract/models.js'
import { CairnError } from '../util/errors.js'

export interface ToolAnnotations { readOnlyHint?: boolean, destructiveHint?: boolean, idempotentHint?: boolean, openWorldHint?: boolean }

export interface Tool<I extends TSchema = TSchema, O extends TSchema = TSchema> {
  name: string
  title: string
  description: string
  input: I
  output: O
  annotations: ToolAnnotations
  run: (args: Static<I>, c: CairnClient) => Promise<Static<O>>
}

/** Infers run()'s argument and result types from the schemas, then erases them for the table. */
const tool = <I extends TSchema, O extends TSchema>(t: Tool<I, O>): Tool => t as unknown as Tool
const args = <P extends Parameters<typeof T.Object>[0]>(p: P) => T.Object(p, { additionalProperties: false })

const GROUP_ARG = 'Where the memory lives. Omit it (or say "personal") for the person\'s private memory: only their own devices and keepers hold it, encrypted. ' +
  'Give a shared group\'s ID or exact name (list_groups shows them) for memory that the other people and agents in that group should see.'
const ID_ARG = 'The memory\'s ID (a UUID, from remember, recall or list_memories).'

const Content = T.Union([
  T.String({ minLength: 1, maxLength: 60_000 }),
  T.Object({}, { additionalProperties: true })
], { description: 'The memory itself: a self-contained sentence or paragraph that will make sense later without this conversation (preferred), or a JSON object.' })
const Meta = T.Object({}, { additionalProperties: true, description: 'Optional JSON object of metadata, e.g. {"source": "conversation", "topic": "billing"}. Its values are searchable too.' })

const remember = tool({
  name: 'remember',
  title: 'Remember',
  description: 'Store a memory in cairn, the person\'s encrypted memory that syncs across their devices and, for shared groups, with the group\'s members. ' +
    'Use it for facts, preferences, decisions and tasks worth keeping beyond this conversation. One memory per fact; write it so it stands alone. ' +
    'Returns the new memory\'s id and the group it went to.',
  input: args({
    content: Content,
    group: T.Optional(T.String({ maxLength: 200, description: GROUP_ARG })),
    type: T.Optional(T.String({ minLength: 1, maxLength: 100, description: 'A short kind, e.g. fact, preference, decision, task, note (default note). list_memories can filter by it.' })),
    meta: T.Optional(Meta)
  }),
  output: T.Object({ id: M.ItemId, groupId: M.GroupId }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (a, c) => {
    const gid = await resolveGroup(c, a.group)
    const w = await c.createItem(gid, { content: a.content, ...(a.type !== undefined ? { type: a.type } : {}), ...(a.meta !== undefined ? { meta: a.meta } : {}) })
    return { id: w.id, groupId: w.groupId }
  }
})

const recall = tool({
  name: 'recall',
  title: 'Recall',
  description: 'Search the memories this node can decrypt (the person\'s own and those of their shared groups). ' +
    'It is a full-text keyword search, not a semantic one: a memory matches when it contains EVERY word of the query, as whole words ' +
    '(case and accents ignored, no stemming: "deploy" does not match "deployment"), in its content, type or metadata; results are ranked by relevance (BM25). ' +
    'So query with one to three distinctive keywords ("invoice Acme", "Dana coffee"), not a question; if nothing comes back, try fewer or other words. ' +
    'The snippet shows the matched words in [brackets]; get_memory gives the whole memory.',
  input: args({
    query: T.String({ minLength: 1, maxLength: 500, description: 'Keywords that must all appear in a memory.' }),
    group: T.Optional(T.String({ maxLength: 200, description: 'Only this group (ID, exact name, or "personal"); default: every group.' })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 50, description: 'At most this many results (default 10).' }))
  }),
  output: T.Object({
    results: T.Array(T.Object({ id: M.ItemId, groupId: M.GroupId, snippet: T.String(), score: T.Number() })),
    partial: T.Optional(T.Literal(true, { description: 'Some matches may be missing (the node just started and is still indexing, or the query was too broad): ask again in a moment, or narrow it.' }))
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (a, c) => {
    const group = a.group !== undefined ? await resolveGroup(c, a.group) : undefined
    const r = await c.search(a.query, { limit: a.limit ?? 10, ...(group !== undefined ? { group } : {}) })
    return { results: r.results.map(h => ({ id: h.itemId, groupId: h.groupId, snippet: h.snippet, score: h.score })), ...(r.partial ? { partial: true as const } : {}) }
  }
})

const getMemory = tool({
  name: 'get_memory',
  title: 'Get a memory',
  description: 'Read one memory in full: content, type, metadata, author (an entity ID), times, and its provenance (created, modified, shared-from: each step signed by its author).',
  input: args({ id: T.String({ maxLength: 64, description: ID_ARG }) }),
  output: M.Item,
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (a, c) => await c.getItem(a.id)
})

const listMemories = tool({
  name: 'list_memories',
  title: 'List memories',
  description: 'List the memories of one group, newest first, a page at a time (pass nextCursor back as cursor for the next page; null means no more). ' +
    'Use it to browse or to see what was remembered lately; use recall to find something by its words.',
  input: args({
    group: T.Optional(T.String({ maxLength: 200, description: 'The group (ID, exact name, or "personal"); default: the person\'s personal group.' })),
    type: T.Optional(T.String({ maxLength: 100, description: 'Only memories of this type.' })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 100, description: 'Page size (default 20).' })),
    cursor: T.Optional(T.String({ maxLength: 200, description: 'nextCursor of the previous page.' }))
  }),
  output: M.ItemPage,
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (a, c) =>
    await c.listItems(await resolveGroup(c, a.group), { limit: a.limit ?? 20, ...(a.type !== undefined ? { type: a.type } : {}), ...(a.cursor !== undefined ? { cursor: a.cursor } : {}) })
})

const updateMemory = tool({
  name: 'update_memory',
  title: 'Update a memory',
  description: 'Replace a memory\'s content (and metadata, if given; its type stays). The old version stays in its provenance. ' +
    'Use it when a remembered fact changed, rather than remembering a contradicting one. In an append-only group this is refused (APPEND_ONLY): remember a correction instead.',
  input: args({ id: T.String({ maxLength: 64, description: ID_ARG }), content: Content, meta: T.Optional(Meta) }),
  output: M.WriteResult,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  run: async (a, c) =>
    await c.updateItem(a.id, { content: a.content, ...(a.meta !== undefined ? { meta: a.meta } : {}) })
})

const forget = tool({
  name: 'forget',
  title: 'Forget a memory',
  description: 'Delete a memory. A signed deletion replicates to every device and member of the group, and keepers purge the ciphertext. ' +
    'Use it when the person asks to forget something or a memory is wrong and should not be corrected. It cannot be undone.',
  input: args({ id: T.String({ maxLength: 64, description: ID_ARG }) }),
  output: M.DeleteResult,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  run: async (a, c) => await c.deleteItem(a.id)
})

const listGroups = tool({
  name: 'list_groups',
  title: 'List groups',
  description: 'The groups this node holds: the person\'s personal group (private) and the shared groups (teams, projects) they belong to, with your role in each ' +
    '(owner, admin and member can write; viewer only reads). Use it to choose where to remember something, or to find a group by name.',
  input: args({}),
  output: T.Object({ personalGroupId: M.Nullable(M.GroupId), groups: T.Array(M.GroupSummary) }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (_a, c) => {
    const [s, g] = await Promise.all([c.getStatus(), c.listGroups()])
    return { personalGroupId: s.personalGroupId, groups: g.groups }
  }
})

const shareMemory = tool({
  name: 'share_memory',
  title: 'Share a memory into another group',
  description: 'Copy a memory into another group (for example from the personal group into a team group), so that group\'s members and agents see it. ' +
    'The copy is a new memory (new id) linked to its source in its provenance; later edits of one do not change the other.',
  input: args({
    id: T.String({ maxLength: 64, description: ID_ARG }),
    toGroup: T.String({ maxLength: 200, description: 'The target group: its ID or exact name (list_groups shows them).' })
  }),
  output: M.WriteResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (a, c) => await c.shareItem(a.id, await resolveGroup(c, a.toGroup))
})

export const TOOLS: Tool[] = [remember, recall, getMemory, listMemories, updateMemory, forget, listGroups, shareMemory]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A group argument → a group ID: absent or "personal" is the personal group; else an ID, else an exact (case-insensitive) name. */
export async function resolveGroup (c: CairnClient, g: string | undefined): Promise<string> {
  const want = g?.trim() ?? ''
  if (want === '' || want.toLowerCase() === 'personal') {
    const s = await c.getStatus()
    if (s.personalGroupId === null) throw new CairnError('INVALID_INPUT', s.keeper ? 'this node is a keeper: it holds no memory of its own' : 'this node has no personal group; give a group')
    return s.personalGroupId
  }
  if (UUID.test(want)) return want.toLowerCase()
  const { groups } = await c.listGroups()
  const hits = groups.filter(x => x.name !== null && x.name.toLowerCase() === want.toLowerCase())
  if (hits.length === 1) return hits[0]!.id
  if (hits.length > 1) throw new CairnError('INVALID_INPUT', `several groups are named "${want}": give one of their IDs (${hits.map(h => h.id).join(', ')})`)
  const names = groups.filter(x => x.name !== null && !x.personal).map(x => `"${x.name}"`)
  throw new CairnError('NOT_FOUND', `no group named "${want}" on this node${names.length > 0 ? `; the shared groups are ${names.slice(0, 20).join(', ')}` : '; it belongs to no shared group'} (list_groups shows them)`)
}
