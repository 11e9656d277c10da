/**
 * One SyncIndex per group, kept current from Acceptor events (stored,
 * replaced, removed) while the node runs, and kept across restarts in the
 * store (`sync_index`, store/sync-index-table.ts).
 *
 * Lifecycle of a group's index:
 * - first use: load the persisted row if it is there and passes every check
 *   below, else build from the store's hashes (a streamed scan of the group);
 * - while in memory: updated by events, O(depth) per record;
 * - `persist` (the node stops, or the index goes idle and is dropped from
 *   memory): written back, only if it changed since it was loaded or saved.
 *
 * A persisted row is never trusted blindly. It is used only if
 *   1. the store's invalidating triggers are all in place (a row then exists
 *      only if no record of the group changed since it was written: the
 *      trigger deletes it in the writing transaction, whatever wrote, crash or not);
 *   2. its checksum (SHA-256 over group, depth, count, byte order, every level) matches;
 *   3. its shape fits its depth, and the depth is the one its count calls for;
 *   4. SPOT_CHECKS random nodes (depth 2 of 4; one that the index says is not
 *      empty) summed from the store's hashes equal its own.
 * Any failure drops the row and rebuilds from the store (reported by `onLoad`).
 * The group's records are not recounted on load (a scan of the group: 15 ms
 * at 100k, 150 ms at 1M): the triggers make a row with a wrong count impossible
 * short of editing the table itself, which the checksum catches.
 * Before saving, the in-memory count is compared with the store's: an index
 * that drifted (a write that bypassed the events) is dropped, not persisted.
 */
import { endianness } from 'node:os'
import { equalBytes, toHex } from '../crypto/bytes.js'
import { sha256 } from '../crypto/hash.js'
import type { GroupId } from '../crypto/ids.js'
import type { Store } from '../store/store.js'
import type { SetView } from './reconcile.js'
import { depthFor, FANOUT, nodeBounds, summarise, SyncIndex, type NodeSummary } from './sync-index.js'

const IDLE_MS = 10 * 60_000
const SPOT_CHECKS = 2
const SPOT_DEPTH = 2
const LE = endianness() === 'LE'

/**
 * Why a saved index was not used: `malformed` (not blobs), `checksum` (bytes
 * changed), `shape` (length or depth wrong for its count), `spot-check` (a
 * node summed from the store differs).
 */
export type IndexRejection = 'malformed' | 'checksum' | 'shape' | 'spot-check'
/** How a group's index came to be in memory (logged by the replicator, asserted by tests). */
export interface IndexLoad { gid: GroupId, from: 'persisted' | 'store', ms: number, size: number, rejected?: IndexRejection }

interface Entry { ix: SyncIndex, used: number, saved: boolean }

export class IndexCache {
  private readonly indexes = new Map<string, Entry>()

  constructor (private readonly store: Store<GroupId>, private readonly onLoad?: (e: IndexLoad) => void) {}

  get (gid: GroupId): SyncIndex {
    let e = this.indexes.get(gid)
    if (e === undefined || e.ix.outgrown()) {
      e = e === undefined ? this.load(gid) : this.build(gid, Date.now())
      this.indexes.set(gid, e)
    }
    e.used = Date.now()
    return e.ix
  }

  added (gid: GroupId, hash: Uint8Array, previous?: Uint8Array): void {
    const e = this.indexes.get(gid)
    if (e === undefined) return
    if (previous !== undefined) e.ix.remove(previous)
    e.ix.add(hash)
    e.saved = false
  }

  removed (gid: GroupId, hashes: Uint8Array[]): void {
    const e = this.indexes.get(gid)
    if (e === undefined) return
    for (const h of hashes) e.ix.remove(h)
    e.saved = false
  }

  /** Forget a group's index, in memory and on disk; the next sync rebuilds it from the store. */
  drop (gid: GroupId): void {
    this.indexes.delete(gid)
    this.store.syncIndexes.drop(gid)
  }

  /**
   * Write a group's index to the store if it changed since loaded or saved.
   * 'drifted': its count disagrees with the store's (a write bypassed the
   * events), so it is dropped instead, and the next use rebuilds it.
   */
  persist (gid: GroupId): 'saved' | 'unchanged' | 'drifted' {
    const e = this.indexes.get(gid)
    if (e === undefined || e.saved || !this.store.syncIndexes.present) return 'unchanged'
    if (e.ix.size !== this.store.countGroupRecords(gid)) { this.drop(gid); return 'drifted' }
    const cells = e.ix.state()
    this.store.syncIndexes.save({ gid, depth: e.ix.depth, count: e.ix.size, sum: checksum(gid, e.ix.depth, e.ix.size, cells), cells: bytesOf(cells), saved: Date.now() })
    e.saved = true
    return 'saved'
  }

  /** Persist every index in memory (the node stops); returns the groups whose index drifted. */
  persistAll (): GroupId[] { return [...this.indexes.keys()].filter(g => this.persist(g as GroupId) === 'drifted') as GroupId[] }

  /** Persist a group's index and free its memory: the next use loads it back. */
  unload (gid: GroupId): ReturnType<IndexCache['persist']> {
    const r = this.persist(gid)
    this.indexes.delete(gid)
    return r
  }

  /** Unload the indexes not used for IDLE_MS; returns the groups whose index drifted. */
  evictIdle (now = Date.now()): GroupId[] {
    const drifted: GroupId[] = []
    for (const [g, e] of this.indexes) if (now - e.used > IDLE_MS && this.unload(g as GroupId) === 'drifted') drifted.push(g as GroupId)
    return drifted
  }

  /** A SetView of one group backed by the index and the store. */
  view (gid: GroupId): SetView {
    const ix = this.get(gid)
    const elements = (d: number, i: number): Uint8Array[] => this.elements(gid, d, i)
    return {
      summary: (d: number, i: number): NodeSummary => ix.node(d, i) ?? summarise(elements(d, i)),
      elements,
      iblt: () => ix.iblt,
      held: (hs: Uint8Array[]): Uint8Array[] => {
        const held = this.store.heldHashes(gid, hs.map(h => toHex(h)))
        return hs.filter(h => held.has(toHex(h)))
      },
      adjusted: (d, i, plus, minus) => ix.adjusted(d, i, plus, minus)
    }
  }

  get memoryBytes (): number { let n = 0; for (const e of this.indexes.values()) n += e.ix.memoryBytes; return n }

  private elements (gid: GroupId, d: number, i: number): Uint8Array[] {
    const { lo, hi } = nodeBounds(d, i)
    return this.store.hashesInRange(gid, lo, hi).map(b => new Uint8Array(b))
  }

  private load (gid: GroupId): Entry {
    const t = Date.now()
    const table = this.store.syncIndexes
    if (!table.present) return this.build(gid, t)
    const row = table.load(gid)
    if (row === undefined) return this.build(gid, t)
    const checked = this.check(gid, row)
    if (typeof checked === 'string') {
      table.drop(gid)
      return this.build(gid, t, checked)
    }
    const e = { ix: checked, used: t, saved: true }
    this.onLoad?.({ gid, from: 'persisted', ms: Date.now() - t, size: checked.size })
    return e
  }

  /** The persisted index if it passes every check, else why not. */
  private check (gid: GroupId, row: { depth: number, count: number, sum: Buffer, cells: Buffer }): SyncIndex | IndexRejection {
    if (!(row.sum instanceof Uint8Array) || !(row.cells instanceof Uint8Array) || row.cells.length % 4 !== 0) return 'malformed'
    const cells = new Uint32Array(row.cells.length / 4)
    new Uint8Array(cells.buffer).set(row.cells)
    if (!equalBytes(row.sum, checksum(gid, row.depth, row.count, cells))) return 'checksum'
    const ix = SyncIndex.fromState(row.depth, cells)
    if (ix === undefined) return 'shape'
    if (ix.size !== row.count || depthFor(row.count) !== row.depth) return 'shape'
    // Nodes of a few hundred hashes at most (depth 2 of 4): cheap to sum, and
    // one of them is one the index says holds something.
    const d = Math.max(1, Math.min(SPOT_DEPTH, row.depth - 2))
    const nodes = FANOUT ** d
    const held = Array.from({ length: nodes }, (_, i) => i).filter(i => (ix.count(d, i) ?? 0) > 0)
    for (let k = 0; k < SPOT_CHECKS; k++) {
      const i = k === 0 && held.length > 0 ? held[Math.floor(Math.random() * held.length)]! : Math.floor(Math.random() * nodes)
      const mine = ix.node(d, i)!
      const real = summarise(this.elements(gid, d, i))
      if (mine.count !== real.count || !equalBytes(mine.fp, real.fp)) return 'spot-check'
    }
    return ix
  }

  private build (gid: GroupId, t: number, rejected?: IndexRejection): Entry {
    const ix = SyncIndex.build(this.store.eachHash(gid), this.store.countGroupRecords(gid))
    this.onLoad?.({ gid, from: 'store', ms: Date.now() - t, size: ix.size, ...(rejected !== undefined ? { rejected } : {}) })
    return { ix, used: t, saved: false }
  }
}

/** Byte order is part of the checksum: a store moved to a machine of the other order is rebuilt, not misread. */
function checksum (gid: string, depth: number, count: number, cells: Uint32Array): Buffer {
  const head = Buffer.from(`cairn/sync-index/v1\0${gid}\0${depth}\0${count}\0${LE ? 'le' : 'be'}\0`)
  return Buffer.from(sha256(head, bytesOf(cells)))
}

const bytesOf = (a: Uint32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
