/**
 * One SyncIndex per group, built on first use from the store's hashes and kept
 * current from Acceptor events (stored, replaced, removed). Indexes of groups not
 * synced for a while are dropped to bound memory; the next sync rebuilds them.
 */
import type { GroupId } from '../crypto/ids.js'
import type { Store } from '../store/store.js'
import type { SetView } from './reconcile.js'
import { nodeBounds, summarise, SyncIndex, type NodeSummary } from './sync-index.js'

const IDLE_MS = 10 * 60_000

export class IndexCache {
  private readonly indexes = new Map<string, { ix: SyncIndex, used: number }>()

  constructor (private readonly store: Store<GroupId>) {}

  get (gid: GroupId): SyncIndex {
    let e = this.indexes.get(gid)
    if (e === undefined || e.ix.outgrown()) {
      e = { ix: SyncIndex.build(this.store.eachHash(gid), this.store.countGroupRecords(gid)), used: Date.now() }
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
  }

  removed (gid: GroupId, hashes: Uint8Array[]): void {
    const e = this.indexes.get(gid)
    if (e === undefined) return
    for (const h of hashes) e.ix.remove(h)
  }

  /** Forget a group's index; the next sync rebuilds it from the store. */
  drop (gid: GroupId): void { this.indexes.delete(gid) }

  evictIdle (now = Date.now()): void {
    for (const [g, e] of this.indexes) if (now - e.used > IDLE_MS) this.indexes.delete(g)
  }

  /** A SetView of one group backed by the index and the store. */
  view (gid: GroupId): SetView {
    const ix = this.get(gid)
    const elements = (d: number, i: number): Uint8Array[] => {
      const { lo, hi } = nodeBounds(d, i)
      return this.store.hashesInRange(gid, lo, hi).map(b => new Uint8Array(b))
    }
    return {
      summary: (d: number, i: number): NodeSummary => ix.node(d, i) ?? summarise(elements(d, i)),
      elements
    }
  }

  get memoryBytes (): number { let n = 0; for (const e of this.indexes.values()) n += e.ix.memoryBytes; return n }
}
