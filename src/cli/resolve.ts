/**
 * IDs as people type them: any unambiguous prefix of a group, item, job or
 * share-request ID (as git takes a short commit hash), or a group's name.
 * A full ID is used as given, with no lookup. An ambiguous prefix is an error
 * that lists the candidates; an unknown one says where to find the IDs.
 */
import { CairnError } from '../util/errors.js'
import type { CliContext } from './context.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MIN_PREFIX = 4

interface Candidate { id: string, label?: string }

function pick (kind: string, given: string, all: Candidate[], listCmd: string): string {
  const p = given.toLowerCase()
  const exact = all.filter(c => c.id.toLowerCase() === p || (c.label !== undefined && c.label === given))
  if (exact.length === 1) return exact[0]!.id
  const matches = all.filter(c => c.id.toLowerCase().startsWith(p))
  if (matches.length === 1 && p.length >= MIN_PREFIX) return matches[0]!.id
  if (matches.length === 1) throw new CairnError('INVALID_INPUT', `${kind} ID prefix "${given}" is too short: give at least ${MIN_PREFIX} characters (${matches[0]!.id})`)
  if (matches.length > 1 || exact.length > 1) {
    const list = (matches.length > 1 ? matches : exact).slice(0, 10).map(c => `  ${c.id}${c.label !== undefined ? `  ${c.label}` : ''}`).join('\n')
    throw new CairnError('INVALID_INPUT', `${kind} "${given}" is ambiguous; it matches:\n${list}`)
  }
  throw new CairnError('NOT_FOUND', `no ${kind} matches "${given.slice(0, 80)}" on this node; \`${listCmd}\` lists them`)
}

/** A group ID from a full ID, an unambiguous prefix, or a group name. */
export async function resolveGroup (ctx: CliContext, given: string): Promise<string> {
  if (UUID.test(given)) return given
  const r = await ctx.client().listGroups()
  return pick('group', given, r.groups.map(g => ({ id: g.id, ...(g.name !== null ? { label: g.name } : {}) })), 'cairn group ls')
}

export async function resolveItem (ctx: CliContext, given: string): Promise<string> {
  if (UUID.test(given)) return given
  if (!/^[0-9a-f-]{1,36}$/i.test(given)) throw new CairnError('NOT_FOUND', `no item ${given.slice(0, 80)} (item IDs are UUIDs, or a prefix of one)`)
  const r = await ctx.client().resolveIds(given)
  return pick('item', given, r.matches.map(m => ({ id: m.id, label: `(group ${m.groupId.slice(0, 8)})` })), 'cairn ls')
}

export async function resolveJob (ctx: CliContext, given: string): Promise<string> {
  if (UUID.test(given)) return given
  const r = await ctx.client().listJobs({ limit: 200 })
  return pick('job', given, r.jobs.map(j => ({ id: j.id })), 'cairn jobs')
}

export async function resolveShareRequest (ctx: CliContext, given: string): Promise<string> {
  if (UUID.test(given)) return given
  const r = await ctx.client().listShareRequests()
  return pick('share request', given, r.requests.map(q => ({ id: q.id })), 'cairn circle requests')
}
