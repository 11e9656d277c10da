/**
 * Group verify (GET /api/v1/groups/:gid/verify, `cairn group verify`): every
 * stored record of a group checked again from its bytes, on a member or a
 * keeper alike.
 *
 *   1. descriptors: signature, shape, and the chain rebuilt from version 1
 *      (each version signed by an owner/admin of the one before, linked by hash);
 *   2. every other record: signature and shape, stored under its own ID and
 *      hash, and the acceptance gates against that chain (author rights at the
 *      record's clock, key versions, envelope rules);
 *   3. append-only groups: each linked entry's author signature over its
 *      commitment (part of the item gate), then the DAG (no missing parent, parents before children, amendments of
 *      entries their author saw and may amend); heads = entries nothing names;
 *   4. with a key (members): each linked entry's content against its commitment,
 *      so an entry whose words were changed under re-encryption is named.
 * A keeper does 1–3: it needs no key. Nothing here writes; a problem names the
 * record, its kind and why. Records are read a page at a time and signatures
 * checked in batches (on the worker pool when the node passes one), yielding
 * to the event loop between pages.
 */
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { equalBytes, toHex } from '../crypto/bytes.js'
import type { GroupId } from '../crypto/ids.js'
import { entryCommitment } from '../records/ao-link.js'
import { canAdmin, type DescBody } from '../records/descriptor.js'
import { openItemBytes } from '../records/item.js'
import { decodeFailure, decodeRecord, hasKind, type VerifiedRecord } from '../records/record.js'
import type { Store } from '../store/store.js'
import { isCairnError, type IntegrityError } from '../util/errors.js'
import { verifyDag, type DagEntry } from './dag.js'
import { DescriptorChain, roleIn } from './descriptor-chain.js'
import { gateRecord } from './record-rules.js'
import type { RejectReason } from './reject-reason.js'

const ANSWERED_LATER = new Set<RejectReason | 'duplicate'>(['no-invite', 'stale-invite', 'invite-revoked', 'invite-expired'])
import { requireChain } from './access.js'
import type { GroupContext } from './context.js'

export interface GroupProblem { recordId: string, kind: string, problem: string, ref?: string }

export interface GroupVerdict {
  ok: boolean
  /** Records checked (every kind). */
  records: number
  /** Append-only groups: hex commitments of the DAG's heads, sorted (same on every node holding the same entries). */
  heads: string[]
  problems: GroupProblem[]
  appendOnly: boolean
  /** Entries of an append-only group written before links existed. */
  unlinked: number
  /** Whether entry contents were checked against their commitments, and if not why. */
  content: 'checked' | 'no-key' | 'not-append-only'
}

/** Decode-and-verify a batch of record bytes (the replication worker pool, or inline). */
export type BatchChecker = (batch: Uint8Array[]) => Promise<Array<{ ok: true, rec: VerifiedRecord } | { ok: false, reason: string }>>

export interface VerifyGroupOptions {
  store: Store
  groupId: GroupId
  now: number
  maxSkewMs: number
  check?: BatchChecker
  /** A member's key ring; undefined on a keeper or while locked. Throws or returns undefined when a version is missing. */
  keyFor?: (kv: number) => Uint8Array | undefined
}

const inline: BatchChecker = async (batch) => batch.map(b => {
  try { return { ok: true as const, rec: decodeRecord(b) } } catch (e) { return { ok: false as const, reason: decodeFailure(e) } }
})

export async function verifyGroup (o: VerifyGroupOptions): Promise<GroupVerdict> {
  const check = o.check ?? inline
  const problems: GroupProblem[] = []
  let records = 0
  const chain = await rebuildChain(o, check, problems)
  records += chain.descriptors
  const appendOnly = chain.chain !== undefined && chain.chain.length > 0 && chain.chain.current().ao
  const dag: DagEntry[] = []
  const unlinkedClocks: Array<{ rid: string, clock: number }> = []
  let contentChecked = o.keyFor !== undefined && appendOnly
  const placeholder = (rid: string): void => {
    const x = o.store.ao.byRecordId(o.groupId, rid)
    if (x !== undefined) dag.push({ recordId: rid, e: toHex(x.e), parents: o.store.ao.parentsOf(o.groupId, x.e).map(toHex), clock: x.clock, author: toHex(x.author), damaged: true })
  }

  for (const page of o.store.groupRecords(o.groupId)) {
    const rows = page.filter(r => r.kind !== 'desc')
    const checked = await check(rows.map(r => r.bytes))
    for (const [k, row] of rows.entries()) {
      records++
      const c = checked[k]!
      const named = (problem: string, inDag = false): void => {
        problems.push({ recordId: row.rid, kind: row.kind, problem })
        // A damaged entry is still in its place: keep it in the DAG as the index
        // recorded it when it was stored, so only it is named, not its children.
        if (appendOnly && row.kind === 'item' && !inDag) placeholder(row.rid)
      }
      if (!c.ok) { named(c.reason); continue }
      const r = c.rec
      if (r.recordId !== row.rid || r.groupId !== o.groupId || r.rec.t !== row.kind || !equalBytes(r.hash, row.hash)) { named('stored-out-of-place'); continue }
      if (chain.chain === undefined) continue
      const why = gateRecord(r, { chain: chain.chain, now: o.now, maxSkewMs: o.maxSkewMs })
      // An answer was judged against its invitation when it was stored; the
      // invitation's record (one ID per invitee) is replaced when the member is
      // removed or invited again, so only the answer's signer and chain count here.
      if (why !== undefined && !(r.rec.t === 'answer' && ANSWERED_LATER.has(why))) { named(why); continue }
      if (!hasKind(r, 'item')) continue
      const it = r
      const l = it.rec.b.l
      if (!appendOnly) { if (l !== undefined) named('link-outside-append-only'); continue }
      if (l === undefined) { if (!it.rec.b.del) unlinkedClocks.push({ rid: row.rid, clock: it.rec.c }); continue }
      // The gate checked the entry signature (bad-entry-signature).
      const e = entryCommitment({ groupId: it.groupId, recordId: it.recordId, author: it.rec.b.a, clock: it.rec.c }, l)
      dag.push({ recordId: it.recordId, e: toHex(e), parents: l.h.map(toHex), clock: it.rec.c, author: toHex(it.rec.b.a), ...(l.t !== undefined ? { kind: l.t, target: toHex(l.r!) } : {}) })
      if (contentChecked) {
        const key = safeKey(o.keyFor!, it.rec.b.kv)
        if (key === undefined) { contentChecked = false; continue }
        try { openItemBytes(it, key) } catch (err) {
          named((err as IntegrityError).details?.reason === 'content-commitment' ? 'content-mismatch' : 'unreadable', true)
        }
      }
    }
    await yieldLoop()
  }

  let heads: string[] = []
  if (appendOnly) {
    const v = verifyDag(dag, (amend, target) => amend.author === target.author || canAdmin(roleAt(chain.chain!, amend.clock, amend.author!)))
    heads = v.heads
    // A damaged entry was named already; what the DAG says of it (its own links, unknown now) adds nothing.
    const damaged = new Set(dag.filter(d => d.damaged === true).map(d => d.recordId))
    for (const p of v.problems.filter(x => !damaged.has(x.recordId))) problems.push({ recordId: p.recordId, kind: 'item', problem: p.problem, ...(p.ref !== undefined ? { ref: p.ref } : {}) })
    // Entries without a link are valid history from before links existed, not a way around them.
    const firstLinked = dag.reduce((m, d) => Math.min(m, d.clock), Number.POSITIVE_INFINITY)
    for (const u of unlinkedClocks) if (u.clock > firstLinked) problems.push({ recordId: u.rid, kind: 'item', problem: 'unlinked-entry' })
  }
  return {
    ok: problems.length === 0, records, heads, problems, appendOnly, unlinked: unlinkedClocks.length,
    content: !appendOnly ? 'not-append-only' : contentChecked ? 'checked' : 'no-key'
  }
}

function safeKey (keyFor: (kv: number) => Uint8Array | undefined, kv: number): Uint8Array | undefined {
  try { return keyFor(kv) } catch (e) { if (isCairnError(e)) return undefined; throw e }
}

function roleAt (chain: DescriptorChain, clock: number, authorHex: string): ReturnType<typeof roleIn> {
  const d = chain.at(clock)
  return d === undefined ? undefined : roleIn(d, Buffer.from(authorHex, 'hex'))
}

/** Descriptors re-verified and re-chained from version 1, whatever the registry holds. */
async function rebuildChain (o: VerifyGroupOptions, check: BatchChecker, problems: GroupProblem[]): Promise<{ chain: DescriptorChain | undefined, descriptors: number }> {
  const rows = o.store.allOfKind(o.groupId, 'desc')
  const checked = await check(rows.map(r => r.bytes))
  const good: Array<{ rid: string, d: VerifiedRecord<DescBody> }> = []
  rows.forEach((row, k) => {
    const c = checked[k]!
    if (!c.ok) { problems.push({ recordId: row.rid, kind: 'desc', problem: c.reason }); return }
    if (!hasKind(c.rec, 'desc') || c.rec.recordId !== row.rid || c.rec.groupId !== o.groupId || !equalBytes(c.rec.hash, row.hash)) { problems.push({ recordId: row.rid, kind: 'desc', problem: 'stored-out-of-place' }); return }
    good.push({ rid: row.rid, d: c.rec })
  })
  good.sort((a, b) => (a.d.rec.b as DescBody).ver - (b.d.rec.b as DescBody).ver)
  const chain = new DescriptorChain()
  for (const { rid, d } of good) {
    const why = chain.rejectNext(d)
    if (why === 'duplicate') continue
    if (why !== undefined) { problems.push({ recordId: rid, kind: 'desc', problem: why }); break }
    chain.append(d)
  }
  if (chain.length === 0) {
    problems.push({ recordId: '', kind: 'desc', problem: 'no-descriptor-chain' })
    return { chain: undefined, descriptors: rows.length }
  }
  return { chain, descriptors: rows.length }
}

/**
 * Verify a group this node holds, as the API asks: any node holding it (a
 * keeper, or a member whose vault is locked, checks everything but content);
 * `keyFor` gives a member's keys (a sealed circle or a missing version: none).
 */
export async function verifyHeldGroup (ctx: GroupContext, gid: GroupId, o: { now: number, maxSkewMs: number, check?: BatchChecker, keyFor?: (kv: number) => Uint8Array }): Promise<GroupVerdict> {
  requireChain(ctx, gid)
  const keyFor = ctx.vault?.unlocked === true && o.keyFor !== undefined ? o.keyFor : undefined
  return await verifyGroup({ store: ctx.store, groupId: gid, now: o.now, maxSkewMs: o.maxSkewMs, ...(o.check !== undefined ? { check: o.check } : {}), ...(keyFor !== undefined ? { keyFor } : {}) })
}

