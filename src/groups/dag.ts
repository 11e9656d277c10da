/**
 * The append-only DAG, as a pure core: entries in, heads and problems out.
 * Used by group verify (verify.ts), by the writer choosing what to link
 * (chooseParents), and by reads applying corrections and redactions
 * (resolveAmendments). No I/O, no keys; entries are named by the hex of
 * their commitment E (records/ao-link.ts).
 *
 * Rules an intact log satisfies:
 *  - every parent an entry names is in the log (no missing parent);
 *  - a parent's clock is before its child's (an author can only have seen
 *    what was written before it wrote: the HLC makes this hold);
 *  - a correction or redaction names an entry its author had seen (an
 *    ancestor), and the caller's `allowed` says its author may amend that one.
 * The heads are the entries no entry names. Concurrent writers each add a
 * head; the next entry that saw both names both, and the log stays valid.
 * E covers the parents, so a cycle would need a hash collision: none is checked.
 */
export interface DagEntry {
  recordId: string
  /** hex of the entry commitment E */
  e: string
  parents: readonly string[]
  clock: number
  kind?: 'corrects' | 'redacts'
  /** hex E of the entry a correction or redaction targets */
  target?: string
  /** hex public key of the author (for the caller's `allowed`) */
  author?: string
  /** The entry is held but failed its checks (the caller named it); it stands in for itself here. */
  damaged?: boolean
}

export type DagProblemKind = 'missing-parent' | 'parent-not-earlier' | 'duplicate-entry' | 'missing-target' | 'target-not-seen' | 'amend-not-allowed'

export interface DagProblem { recordId: string, problem: DagProblemKind, ref?: string }

export interface DagVerdict { heads: string[], entries: number, problems: DagProblem[] }

export function verifyDag (list: Iterable<DagEntry>, allowed: (amend: DagEntry, target: DagEntry) => boolean = () => true): DagVerdict {
  const byE = new Map<string, DagEntry>()
  const problems: DagProblem[] = []
  for (const x of list) {
    if (byE.has(x.e)) { problems.push({ recordId: x.recordId, problem: 'duplicate-entry', ref: x.e }); continue }
    byE.set(x.e, x)
  }
  const named = new Set<string>()
  for (const x of byE.values()) {
    for (const p of x.parents) {
      named.add(p)
      const parent = byE.get(p)
      if (parent === undefined) problems.push({ recordId: x.recordId, problem: 'missing-parent', ref: p })
      else if (parent.clock >= x.clock) problems.push({ recordId: x.recordId, problem: 'parent-not-earlier', ref: p })
    }
  }
  for (const x of byE.values()) {
    if (x.target === undefined) continue
    const t = byE.get(x.target)
    if (t === undefined) problems.push({ recordId: x.recordId, problem: 'missing-target', ref: x.target })
    else if (!isAncestor(byE, x, x.target)) problems.push({ recordId: x.recordId, problem: 'target-not-seen', ref: x.target })
    else if (!allowed(x, t)) problems.push({ recordId: x.recordId, problem: 'amend-not-allowed', ref: x.target })
  }
  const heads = [...byE.keys()].filter(e => !named.has(e)).sort()
  return { heads, entries: byE.size, problems }
}

/** Is `e` reachable from `from`'s parents? (Breadth-first; stops at entries older than e's clock.) */
function isAncestor (byE: Map<string, DagEntry>, from: DagEntry, e: string): boolean {
  const goal = byE.get(e)
  if (goal === undefined) return false
  const seen = new Set<string>()
  const queue = [...from.parents]
  while (queue.length > 0) {
    const p = queue.pop()!
    if (p === e) return true
    if (seen.has(p)) continue
    seen.add(p)
    const n = byE.get(p)
    if (n !== undefined && n.clock > goal.clock) queue.push(...n.parents)
  }
  return false
}

/** The heads a new entry names: all of them, or the newest `max` when there are more. */
export function chooseParents<T extends { clock: number, e: string }> (heads: readonly T[], max: number): T[] {
  if (heads.length <= max) return [...heads]
  return [...heads].sort((a, b) => b.clock - a.clock || (a.e < b.e ? -1 : 1)).slice(0, max)
}

export interface Amendment { recordId: string, e: string, kind: 'corrects' | 'redacts', clock: number, author: string }

export interface Resolution {
  /** The redaction in force, if any: the entry's content is not served. */
  redactedBy?: Amendment
  /** Corrections in force, oldest first; the last one's content is what a read serves. */
  correctedBy: Amendment[]
}

/**
 * How reads apply the amendments that target one entry. Only amendments the
 * caller checked (`valid`) count; an amendment that is itself redacted does
 * not apply. The earliest valid redaction is the one reported.
 */
export function resolveAmendments (amendments: readonly Amendment[], isRedacted: (a: Amendment) => boolean): Resolution {
  const live = amendments.filter(a => !isRedacted(a)).sort((a, b) => a.clock - b.clock || (a.e < b.e ? -1 : 1))
  const redaction = live.find(a => a.kind === 'redacts')
  return { ...(redaction !== undefined ? { redactedBy: redaction } : {}), correctedBy: live.filter(a => a.kind === 'corrects') }
}
