/**
 * The node's one SQLite database (better-sqlite3): WAL, synchronous=FULL, so a
 * write acknowledged with 201 survives kill -9 and power loss. All SQL lives in
 * this directory as named statements; callers get typed rows.
 */
import Database, { type Database as Db } from 'better-sqlite3'
import { chmodSync, existsSync } from 'node:fs'
import { CairnError, isDiskFull, storageFull } from '../util/errors.js'
import { migrate, roleIndexes, type StoreRole } from './migrations.js'
import { checkAtOpen, markClosed, markOpen, type StoreOpenState } from './open-check.js'
import { prepare, type Statements } from './statements.js'
import { MembershipStore } from './membership-store.js'
import { PeerTables } from './peer-tables.js'
import { AoIndex } from './ao-index.js'
import { SyncIndexTable } from './sync-index-table.js'

/**
 * Rows carry the group ID type the caller gives the store (`Store<GroupId>` on
 * a node): the store itself knows no ID formats.
 */
export interface RecordRow<G extends string = string> {
  gid: G
  rid: string
  kind: string
  clock: number
  kv: number
  signer: Buffer
  author: Buffer | null
  tomb: number
  hash: Buffer
  bytes: Buffer
  size: number
  received: number
}

export type RecordMeta<G extends string = string> = Omit<RecordRow<G>, 'bytes'>

export interface GroupRow<G extends string = string> { gid: G, desc_ver: number, joined: number, state: string }

export interface JobRow<G extends string = string> {
  id: string, kind: string, gid: G, state: string, done: number, total: number,
  params: string, error: string | null, created: number, updated: number
}

export interface OutboxRow<G extends string = string> { target: string, gid: G, created: number, attempts: number, next_at: number, last_error: string | null, hint: string | null }

export interface AuditRow { seq: number, at: number, kind: string, data: string, prev: Buffer, hash: Buffer }


/** Pages of WAL between automatic checkpoints (4 KiB pages: 64 MiB). */
const WAL_CHECKPOINT_PAGES = 16_384

export class Store<G extends string = string> {
  readonly db: Db
  /** The address book and per-peer replication state (peer-tables.ts). */
  readonly peers: PeerTables
  readonly opened: StoreOpenState = { uncleanShutdown: false, check: 'none' }
  /** The append-only DAG index (ao-index.ts). */
  readonly ao: AoIndex
  private readonly s: Statements
  /** Invitations received, groups ended here, circle shares held back (membership-store.ts). */
  readonly membership: MembershipStore<G>
  /** Anti-entropy indexes persisted across restarts (sync-index-table.ts). */
  readonly syncIndexes: SyncIndexTable

  /** `role`: a keeper's store has no member-only indexes (migrations.ts roleIndexes). */
  constructor (readonly path: string, role: StoreRole = 'member') {
    const fresh = path !== ':memory:' && !existsSync(path)
    try {
      this.db = new Database(path)
    } catch (e) {
      throw new CairnError('CONFIG', `cannot open database ${path}: ${(e as Error).message}`)
    }
    if (fresh) chmodSync(path, 0o600)
    try {
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = FULL')
      this.db.pragma('foreign_keys = ON')
      this.db.pragma('busy_timeout = 5000')
      this.db.pragma('secure_delete = ON')
      // Checkpoint every 64 MiB of WAL, not every 4 MiB (SQLite's default): a received
      // batch's inserts land on random index pages, so a 1 MiB sync batch writes 4–7 MiB
      // of WAL (measured, 100k records) and every commit ran a checkpoint (fsyncs, every
      // page copied back); with a longer interval a page dirtied by many batches is
      // copied back once. The file is cut back to that size after a checkpoint.
      this.db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`)
      this.db.pragma(`journal_size_limit = ${WAL_CHECKPOINT_PAGES * 4096}`)
      if (!fresh && path !== ':memory:') checkAtOpen(this.db, path, this.opened)
      migrate(this.db)
      roleIndexes(this.db, role)
      if (path !== ':memory:') markOpen(this.db)
    } catch (e) {
      this.db.close()
      if (e instanceof CairnError) throw e
      throw new CairnError('CONFIG', `database ${path} is not a usable cairn store: ${(e as Error).message}`)
    }
    this.peers = new PeerTables(this.db)
    this.s = prepare(this.db, role)
    this.membership = new MembershipStore<G>(this.db)
    this.ao = new AoIndex(this.db)
    this.syncIndexes = new SyncIndexTable(this.db)
  }

  private depth = 0
  private afterCommitQueue: Array<() => void> = []

  /**
   * Run fn in a transaction (nested calls become savepoints). Hooks registered
   * with afterCommit() run once the outermost transaction has committed, and
   * are dropped if it rolls back.
   */
  tx<T> (fn: () => T): T {
    this.depth++
    let out: T
    try {
      out = this.db.transaction(fn)()
    } catch (e) {
      this.depth--
      if (this.depth === 0) this.afterCommitQueue = []
      // SQLITE_FULL rolled the transaction back: nothing of it is stored.
      throw isDiskFull(e) ? storageFull(e) : e
    }
    this.depth--
    if (this.depth === 0 && this.afterCommitQueue.length > 0) {
      const q = this.afterCommitQueue
      this.afterCommitQueue = []
      for (const f of q) f()
    }
    return out
  }

  /**
   * Atomic on its own; inside a transaction, part of it (no savepoint: a
   * failure aborts the enclosing transaction, which is what its callers want).
   */
  atomic<T> (fn: () => T): T { return this.depth > 0 ? fn() : this.tx(fn) }

  /**
   * Run fn (outside any transaction) with synchronous=NORMAL: in WAL mode its
   * commit survives a process crash but not a power loss until the next FULL
   * commit syncs the log. For records on a latency-critical path (circle share
   * audit entries, pushed records), and for acknowledged writes only when the
   * caller syncs the WAL itself before acknowledging (group-commit.ts).
   */
  relaxed<T> (fn: () => T): T {
    if (this.depth > 0) return fn()
    this.db.pragma('synchronous = NORMAL')
    try { return fn() } finally { this.db.pragma('synchronous = FULL') }
  }

  /** Run now, or after the current outermost transaction commits. */
  afterCommit (fn: () => void): void {
    if (this.depth === 0) fn()
    else this.afterCommitQueue.push(fn)
  }

  getHead (gid: G, rid: string): RecordRow<G> | undefined { return this.s.getHead.get(gid, rid) as RecordRow<G> | undefined }
  /** The heads of these records of one group that exist, by rid, without their bytes (getHeadMeta for a batch). */
  getHeadsMeta (gid: G, rids: readonly string[]): Map<string, RecordMeta<G>> {
    const out = new Map<string, RecordMeta<G>>()
    for (const row of this.s.getHeadsMeta.iterate(gid, JSON.stringify(rids)) as IterableIterator<RecordMeta<G>>) out.set(row.rid, row)
    return out
  }

  getHeadMeta (gid: G, rid: string): RecordMeta<G> | undefined { return this.s.getHeadMeta.get(gid, rid) as RecordMeta<G> | undefined }
  getByHash (gid: G, hash: Uint8Array): RecordRow<G> | undefined { return this.s.getByHash.get(gid, hash) as RecordRow<G> | undefined }
  /** Of these record hashes (hex), the ones this group holds, in one statement. */
  heldHashes (gid: G, hexes: readonly string[]): Set<string> {
    return new Set(this.s.heldHashes.pluck().all(gid, JSON.stringify(hexes)) as string[])
  }
  /**
   * Locate a record by ID in any group (item IDs are unique across groups):
   * one (gid, rid) index probe per group held, not a scan of every record
   * (measured: 4.6 ms per miss at 60,000 records by scan).
   */
  findRecord (rid: string): RecordMeta<G> | undefined {
    for (const gid of this.s.allGroupIds.pluck().all() as G[]) {
      const m = this.getHeadMeta(gid, rid)
      if (m !== undefined) return m
    }
    return undefined
  }
  /** Live items whose ID starts with `prefix`, in any group: one (gid, rid) range probe per group. */
  itemsByPrefix (prefix: string, limit: number): Array<{ gid: G, rid: string }> {
    const out: Array<{ gid: G, rid: string }> = []
    for (const gid of this.s.allGroupIds.pluck().all() as G[]) {
      out.push(...this.s.ridPrefix.all(gid, prefix, prefix + '~', limit - out.length) as Array<{ gid: G, rid: string }>)
      if (out.length >= limit) break
    }
    return out
  }

  putHead (row: RecordRow<G>): void { this.s.putHead.run(row) }
  deleteHead (gid: G, rid: string): void { this.s.delHead.run(gid, rid) }

  /** Page through one kind in (clock, rid) order; `after` is exclusive. */
  listKind (gid: G, kind: string, limit: number, after?: { clock: number, rid: string }, descending = false): RecordRow<G>[] {
    if (descending) {
      const a = after ?? { clock: Number.MAX_SAFE_INTEGER, rid: '~' }
      return this.s.listKindDesc.all(gid, kind, a.clock, a.clock, a.rid, limit) as RecordRow<G>[]
    }
    const a = after ?? { clock: -1, rid: '' }
    return this.s.listKind.all(gid, kind, a.clock, a.clock, a.rid, limit) as RecordRow<G>[]
  }

  allOfKind (gid: G, kind: string): RecordRow<G>[] {
    return (kind === 'item' ? this.s.allItems.all(gid) : this.s.allMetaKind.all(gid, kind)) as RecordRow<G>[]
  }

  countLive (gid: G, kind: string): number {
    return ((kind === 'item' ? this.s.countItems.get({ gid }) : this.s.countMetaKind.get({ gid, kind })) as { n: number }).n
  }
  countAllItems (): number { return (this.s.countAllItems.get() as { n: number }).n }
  /** Record bytes held (heads; history is a member node's own copy, not a peer's to fill). */
  totalBytes (): number { return (this.s.totalBytes.get() as { n: number }).n }
  countGroupRecords (gid: G): number { return (this.s.countGroup.get(gid) as { n: number }).n }

  /** Items still encrypted under a key version older than `kv`, by rid after `afterRid`. */
  staleItems (gid: G, kv: number, afterRid: string, limit: number): RecordRow<G>[] {
    return this.s.staleKv.all(gid, kv, afterRid, limit) as RecordRow<G>[]
  }

  countStaleItems (gid: G, kv: number): number { return (this.s.countStaleKv.get(gid, kv) as { n: number }).n }

  /**
   * Every record hash of a group, streamed: the caller must consume it without
   * yielding to the event loop (the connection is busy until it ends). A
   * million hashes as one array cost ~600 MiB of RSS; streamed, a few MiB.
   */
  * eachHash (gid: G): Generator<Buffer> {
    for (const r of this.s.hashes.raw(true).iterate(gid) as IterableIterator<[Buffer]>) yield r[0]
  }

  /** Hashes in [lo, hi) (hi undefined = open end), ascending. */
  hashesInRange (gid: G, lo: Uint8Array, hi: Uint8Array | undefined): Buffer[] {
    const rows = (hi === undefined ? this.s.hashRangeOpen.raw(true).all(gid, lo) : this.s.hashRange.raw(true).all(gid, lo, hi)) as Array<[Buffer]>
    return rows.map(r => r[0])
  }

  /**
   * Records in [lo, hi), ascending, read a page at a time: safe to consume
   * across awaits, and memory stays at one page however large the range.
   */
  * recordsInRange (gid: G, lo: Uint8Array, hi: Uint8Array | undefined, page = 512): Generator<{ bytes: Buffer, hash: Buffer }> {
    let from: Uint8Array = lo
    let last: Buffer | undefined
    for (;;) {
      const rows = (hi === undefined ? this.s.bytesRangeOpen.all(gid, from, page) : this.s.bytesRange.all(gid, from, hi, page)) as Array<{ bytes: Buffer, hash: Buffer }>
      for (const r of rows) if (last === undefined || !r.hash.equals(last)) yield r
      if (rows.length < page) return
      last = rows[rows.length - 1]!.hash
      from = last
    }
  }

  /** Every record of a group by record ID, a page at a time (safe across awaits): what group verify reads. */
  * groupRecords (gid: G, page = 1000): Generator<Array<{ rid: string, kind: string, hash: Buffer, bytes: Buffer }>> {
    let after = ''
    for (;;) {
      const rows = this.s.groupPage.all(gid, after, page) as Array<{ rid: string, kind: string, hash: Buffer, bytes: Buffer }>
      if (rows.length > 0) yield rows
      if (rows.length < page) return
      after = rows[rows.length - 1]!.rid
    }
  }

  expiredTombstones (before: number, limit: number): Array<{ gid: G, rid: string }> {
    return this.s.expiredTombs.all(before, limit) as Array<{ gid: G, rid: string }>
  }

  pushHistory (gid: G, rid: string, clock: number, hash: Uint8Array, bytes: Uint8Array): void { this.s.pushHistory.run(gid, rid, clock, hash, bytes) }
  /** The stored head of a record, kept as a superseded version (before it is replaced): copied inside SQLite, its bytes never read out. */
  headToHistory (gid: G, rid: string): void { this.s.headToHistory.run(gid, rid) }
  history (gid: G, rid: string): Array<{ clock: number, hash: Buffer, bytes: Buffer }> {
    return this.s.history.all(gid, rid) as Array<{ clock: number, hash: Buffer, bytes: Buffer }>
  }

  purgeHistory (gid: G, rid: string): void { this.s.purgeHistory.run(gid, rid) }

  upsertGroup (g: GroupRow<G>): void { this.s.upsertGroup.run(g) }
  getGroup (gid: G): GroupRow<G> | undefined { return this.s.getGroup.get(gid) as GroupRow<G> | undefined }
  listGroups (): GroupRow<G>[] { return this.s.listGroups.all() as GroupRow<G>[] }

  putJob (j: JobRow<G>): void { this.s.putJob.run(j) }
  getJob (id: string): JobRow<G> | undefined { return this.s.getJob.get(id) as JobRow<G> | undefined }
  unfinishedJobs (): JobRow<G>[] { return this.s.unfinishedJobs.all() as JobRow<G>[] }
  recentJobs (limit: number): JobRow<G>[] { return this.s.recentJobs.all(limit) as JobRow<G>[] }

  /**
   * Purge a group so its bytes are gone from the files, not only its rows: every
   * record, superseded version, delivery, key-usage counter and job of the group in
   * one transaction (secure_delete = ON zeroes the freed cells and the pages put on
   * the freelist, overflow pages included), then a TRUNCATE checkpoint: the zeroed
   * pages are written over the old ones in the main file and the WAL, which still
   * held the old page images, is cut to zero bytes. The group row stays (callers
   * mark it deleted or left). Returns what was removed.
   */
  purgeGroup (gid: G): { records: number, bytes: number } {
    const out = this.tx(() => {
      const r = this.s.groupBytes.get(gid) as { n: number, bytes: number }
      const h = this.s.historyBytes.get(gid) as { n: number, bytes: number }
      this.s.delGroupRecords.run(gid)
      this.s.delGroupHistory.run(gid)
      this.s.delGroupOutbox.run(gid)
      this.s.delGroupUsage.run(gid)
      this.s.delGroupJobs.run(gid)
      this.membership.deleteGroupInvites(gid)
      this.membership.deleteGroupShares(gid)
      this.ao.dropGroup(gid)
      this.peers.dropSyncState(gid)
      this.syncIndexes.drop(gid)
      return { records: r.n + h.n, bytes: r.bytes + h.bytes }
    })
    this.afterCommit(() => { this.truncateWal() })
    return out
  }

  /**
   * Checkpoint the WAL into the main file and cut it to zero bytes. A reader
   * holding an old snapshot makes the checkpoint stop short (busy): retried a few
   * times, then left to the next purge or the close (which checkpoints too).
   */
  truncateWal (): boolean {
    for (let i = 0; i < 20; i++) {
      const r = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number, log: number, checkpointed: number }>
      if (r[0]?.busy === 0) return true
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
    }
    return false
  }

  getMeta (key: string): string | undefined { return (this.s.getMeta.get(key) as { value: string } | undefined)?.value }
  putMeta (key: string, value: string): void { this.s.putMeta.run(key, value) }

  /** Count encryptions per key version (SPEC §2: rotate before 2^31). Returns the new total. */
  bumpKeyUsage (gid: G, kv: number, n = 1): number {
    this.s.bumpUsage.run(gid, kv, n)
    return (this.s.getUsage.get(gid, kv) as { count: number }).count
  }

  auditTail (): AuditRow | undefined { return this.s.auditTail.get() as AuditRow | undefined }
  auditAppend (row: AuditRow): void { this.s.auditPut.run(row.seq, row.at, row.kind, row.data, row.prev, row.hash) }
  auditList (afterSeq: number, limit: number): AuditRow[] { return this.s.auditList.all(afterSeq, limit) as AuditRow[] }
  /**
   * As auditList, as column arrays [seq, at, kind, data, prev hex, hash hex]:
   * no object and no Buffer per row (verify's hot loop; see audit/chain.ts).
   */
  auditPage (afterSeq: number, limit: number): Array<[number, number, string, string, string, string]> {
    return this.s.auditPage.all(afterSeq, limit) as Array<[number, number, string, string, string, string]>
  }

  auditCount (): number { return (this.s.auditCount.get() as { n: number }).n }

  enqueueDelivery (target: string, gid: G, hint?: string): void { this.s.outboxPut.run({ target, gid, created: Date.now(), next_at: 0, hint: hint ?? null }) }
  dueDeliveries (now: number, limit: number): OutboxRow<G>[] { return this.s.outboxDue.all(now, limit) as OutboxRow<G>[] }
  deliveryFailed (target: string, gid: G, nextAt: number, error: string): void { this.s.outboxFail.run(nextAt, error.slice(0, 500), target, gid) }
  deliveryDone (target: string, gid: G): void { this.s.outboxDone.run(target, gid) }
  /** A target became reachable: retry its deliveries now. */
  wakeDeliveries (target: string): void { this.s.outboxWake.run(target) }
  /** Deliveries of one group still owed. */
  deliveriesOf (gid: G): OutboxRow<G>[] { return this.s.outboxOfGroup.all(gid) as OutboxRow<G>[] }
  /** The newest vault backup signed by an entity, in any group held here. */
  vaultBackupOf (signer: Uint8Array): RecordRow<G> | undefined { return this.s.vaultBySigner.get(signer) as RecordRow<G> | undefined }
  countItemsWithKv (gid: G, kv: number): number { return (this.s.countKv.get(gid, kv) as { n: number }).n }

  integrityCheck (): string { return String(this.db.pragma('integrity_check', { simple: true })) }

  /** Close; a store closed here opens next time without an integrity check. */
  close (): void {
    if (!this.db.open) return
    if (this.path !== ':memory:') markClosed(this.db)
    this.db.close()
  }
}
