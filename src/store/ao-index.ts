/**
 * The append-only DAG index: for every linked entry of an append-only group,
 * its commitment E and the clear fields reads and writers need (record ID,
 * clock, author, amendment kind and target), its parent links, and the set of
 * heads (entries nothing names yet). Maintained by the Acceptor in the
 * transaction that stores the entry, so it never disagrees with the records;
 * what it holds is routing metadata already in the clear in the record.
 *
 * Heads are kept incrementally: storing entry X removes X's parents from the
 * heads and adds X, unless an entry naming X arrived first (sync delivers in
 * any order). Cost per entry: a few index operations, whatever the group's size.
 */
import type { Database, Statement } from 'better-sqlite3'

export interface AoEntryRow { e: Buffer, rid: string, clock: number, author: Buffer, kind: string | null, target: Buffer | null }

export class AoIndex {
  private readonly s: Statements

  constructor (db: Database) { this.s = prepare(db) }

  /** Index a newly stored entry (idempotent: a re-encryption or a repeat changes nothing). Call inside the storing transaction. */
  add (gid: string, x: { e: Uint8Array, rid: string, clock: number, author: Uint8Array, parents: readonly Uint8Array[], kind?: string, target?: Uint8Array }): void {
    if (this.s.put.run(gid, x.e, x.rid, x.clock, x.author, x.kind ?? null, x.target ?? null).changes === 0) return
    for (const p of x.parents) {
      this.s.link.run(gid, p, x.e)
      this.s.unhead.run(gid, p)
    }
    if (this.s.named.get(gid, x.e) === undefined) this.s.head.run(gid, x.e, x.clock)
  }

  heads (gid: string): Array<{ e: Buffer, clock: number }> { return this.s.heads.all(gid) as Array<{ e: Buffer, clock: number }> }
  byRecordId (gid: string, rid: string): AoEntryRow | undefined { return this.s.byRid.get(gid, rid) as AoEntryRow | undefined }
  byCommitment (gid: string, e: Uint8Array): AoEntryRow | undefined { return this.s.byE.get(gid, e) as AoEntryRow | undefined }
  /** The parents entry `e` was indexed with. */
  parentsOf (gid: string, e: Uint8Array): Buffer[] { return (this.s.parentsOf.all(gid, e) as Array<{ parent: Buffer }>).map(r => r.parent) }
  /** Corrections and redactions naming `e` as their target. */
  amending (gid: string, e: Uint8Array): AoEntryRow[] { return this.s.amending.all(gid, e) as AoEntryRow[] }

  dropGroup (gid: string): void {
    this.s.dropEntries.run(gid); this.s.dropParents.run(gid); this.s.dropHeads.run(gid)
  }
}

function prepare (db: Database) {
  const p = (sql: string): Statement => db.prepare(sql)
  return {
    put: p('INSERT OR IGNORE INTO ao_entries (gid, e, rid, clock, author, kind, target) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    link: p('INSERT OR IGNORE INTO ao_parents (gid, parent, child) VALUES (?, ?, ?)'),
    unhead: p('DELETE FROM ao_heads WHERE gid = ? AND e = ?'),
    named: p('SELECT 1 FROM ao_parents WHERE gid = ? AND parent = ? LIMIT 1'),
    head: p('INSERT OR IGNORE INTO ao_heads (gid, e, clock) VALUES (?, ?, ?)'),
    heads: p('SELECT e, clock FROM ao_heads WHERE gid = ?'),
    byRid: p('SELECT e, rid, clock, author, kind, target FROM ao_entries WHERE gid = ? AND rid = ?'),
    byE: p('SELECT e, rid, clock, author, kind, target FROM ao_entries WHERE gid = ? AND e = ?'),
    parentsOf: p('SELECT parent FROM ao_parents WHERE gid = ? AND child = ?'),
    amending: p('SELECT e, rid, clock, author, kind, target FROM ao_entries WHERE gid = ? AND target = ?'),
    dropEntries: p('DELETE FROM ao_entries WHERE gid = ?'),
    dropParents: p('DELETE FROM ao_parents WHERE gid = ?'),
    dropHeads: p('DELETE FROM ao_heads WHERE gid = ?')
  }
}

type Statements = ReturnType<typeof prepare>
