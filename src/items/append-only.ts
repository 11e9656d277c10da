/**
 * Append-only groups as items/ sees them: what a new entry links (the heads),
 * what a correction or redaction targets, and how reads apply the amendments
 * that target an entry (a redacted entry's content is not served; a corrected
 * one serves its latest correction, with the original beside it). The DAG
 * itself is groups/dag.ts; the index it reads is store/ao-index.ts.
 *
 * An amendment counts only if its author may amend the target: the target's
 * own author, or an owner/admin at the amendment's clock (group verify names
 * the others). An amendment that is itself redacted no longer applies.
 */
import { toHex } from '../crypto/bytes.js'
import { clockToIso } from '../crypto/hlc.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import { MAX_PARENTS, type LinkInput, type LinkKind } from '../records/ao-link.js'
import { canAdmin } from '../records/descriptor.js'
import type { ItemBody } from '../records/item.js'
import type { DecodedRecord } from '../records/record.js'
import type { AoEntryRow } from '../store/ao-index.js'
import { CairnError, InvalidInputError } from '../util/errors.js'
import { chooseParents, resolveAmendments, type Amendment, type Resolution } from '../groups/dag.js'
import { roleIn, type DescriptorChain } from '../groups/descriptor-chain.js'
import type { GroupContext } from '../groups/context.js'

export interface Amend { kind: LinkKind, target: string }

/** The link of a new entry of `gid`: every head (the newest MAX_PARENTS), and the amended entry's commitment. */
export function linkFor (ctx: GroupContext, chain: DescriptorChain, gid: GroupId, me: Uint8Array, amend: Amend | undefined): LinkInput {
  const parents = chooseParents(ctx.store.ao.heads(gid).map(h => ({ e: toHex(h.e), clock: h.clock, raw: h.e })), MAX_PARENTS).map(h => h.raw)
  if (amend === undefined) return { parents }
  const t = ctx.store.ao.byRecordId(gid, amend.target)
  if (t === undefined) throw new CairnError('NOT_FOUND', `no entry ${amend.target} in this append-only group to ${amend.kind === 'corrects' ? 'correct' : 'redact'}`)
  if (!mayAmend(chain, me, t, Number.MAX_SAFE_INTEGER)) throw new CairnError('FORBIDDEN', `only the entry's author or an owner/admin may ${amend.kind === 'corrects' ? 'correct' : 'redact'} it`)
  return { parents, kind: amend.kind, target: t.e }
}

function mayAmend (chain: DescriptorChain, author: Uint8Array, target: AoEntryRow, clock: number): boolean {
  if (Buffer.from(target.author).equals(Buffer.from(author))) return true
  const d = clock === Number.MAX_SAFE_INTEGER ? chain.current() : chain.at(clock)
  return d !== undefined && canAdmin(roleIn(d, author))
}

/** The amendments in force for one entry (rights checked, redacted amendments dropped). */
export function amendmentsOf (ctx: GroupContext, chain: DescriptorChain, gid: GroupId, e: Uint8Array): Resolution & { rows: Map<string, AoEntryRow> } {
  const target = ctx.store.ao.byCommitment(gid, e)
  const rows = new Map<string, AoEntryRow>()
  if (target === undefined) return { correctedBy: [], rows }
  const valid = (x: AoEntryRow, of: AoEntryRow): boolean => mayAmend(chain, x.author, of, x.clock)
  const list: Amendment[] = []
  for (const x of ctx.store.ao.amending(gid, e)) {
    if (!valid(x, target)) continue
    rows.set(x.rid, x)
    list.push({ recordId: x.rid, e: toHex(x.e), kind: x.kind as LinkKind, clock: x.clock, author: toHex(x.author) })
  }
  const isRedacted = (a: Amendment): boolean => {
    const row = rows.get(a.recordId)!
    return ctx.store.ao.amending(gid, row.e).some(y => y.kind === 'redacts' && valid(y, row))
  }
  return { ...resolveAmendments(list, isRedacted), rows }
}

/** Is this entry's content withheld by a redaction in force? */
export function isRedacted (ctx: GroupContext, chain: DescriptorChain, gid: GroupId, e: Uint8Array): boolean {
  return amendmentsOf(ctx, chain, gid, e).redactedBy !== undefined
}

/** The entry's place in the log, as GET shows it. */
export interface EntryView { commitment: string, parents: string[], corrects?: string, redacts?: string }

export function entryViewOf (ctx: GroupContext, gid: GroupId, r: DecodedRecord<ItemBody>, e: Uint8Array): EntryView {
  const l = r.rec.b.l!
  const target = l.r !== undefined ? ctx.store.ao.byCommitment(gid, l.r)?.rid ?? toHex(l.r) : undefined
  return { commitment: toHex(e), parents: l.h.map(toHex), ...(target !== undefined ? { [l.t === 'corrects' ? 'corrects' : 'redacts']: target } : {}) }
}

export const amendmentBy = (a: Amendment, row: AoEntryRow): { entry: string, by: string, at: string } =>
  ({ entry: a.recordId, by: entityIdFromPublicKey(row.author), at: clockToIso(row.clock) })

/** `corrects` / `redacts` of a new item: at most one, and only in an append-only group. */
export function amendOf (inp: { corrects?: unknown, redacts?: unknown }, appendOnly: boolean): Amend | undefined {
  if (inp.corrects === undefined && inp.redacts === undefined) return undefined
  if (inp.corrects !== undefined && inp.redacts !== undefined) throw new InvalidInputError('an entry corrects or redacts one entry, not both')
  if (!appendOnly) throw new InvalidInputError('corrects and redacts are for append-only groups; here, change an item with PUT or delete it')
  const kind: LinkKind = inp.corrects !== undefined ? 'corrects' : 'redacts'
  const target = inp.corrects ?? inp.redacts
  if (typeof target !== 'string') throw new InvalidInputError(`${kind} must be the ID of the entry it amends`)
  return { kind, target }
}

/** What the search indexer asks of append-only groups (wired by node/services.ts). */
export function searchRules (ctx: GroupContext): { withheld: (r: DecodedRecord<ItemBody>) => boolean, withholds: (r: DecodedRecord<ItemBody>) => string | undefined } {
  const chainOf = (gid: GroupId): DescriptorChain | undefined => ctx.registry.chain(gid)
  return {
    withheld: r => {
      const chain = chainOf(r.groupId)
      const e = r.rec.b.l !== undefined ? ctx.store.ao.byRecordId(r.groupId, r.recordId)?.e : undefined
      return chain !== undefined && e !== undefined && isRedacted(ctx, chain, r.groupId, e)
    },
    withholds: r => {
      const l = r.rec.b.l
      const chain = chainOf(r.groupId)
      if (l?.t !== 'redacts' || chain === undefined) return undefined
      const target = ctx.store.ao.byCommitment(r.groupId, l.r!)
      const self = ctx.store.ao.byRecordId(r.groupId, r.recordId)
      return target !== undefined && self !== undefined && mayAmend(chain, self.author, target, self.clock) ? target.rid : undefined
    }
  }
}
