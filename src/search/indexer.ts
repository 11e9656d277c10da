/**
 * Keeps the search index (search-index.ts) in step with the store: an item's
 * words go in when a version the node can open is stored, out when it is
 * deleted; a whole group is (re)indexed when its key becomes available (unlock,
 * unseal). Only what opens with a key this node holds now is indexed, and
 * never the words of a redacted append-only entry.
 *
 * Invariant: what is indexed from the store was verified again first (its
 * signature, its ID, its hash): a tampered record must not leak through search
 * what GET refuses (422). This node's own writes are indexed from the plaintext
 * it sealed (`sealedHere`), never from bytes read back.
 */
import type { GroupId } from '../crypto/ids.js'
import { openItem, type ItemBody, type ItemPlain } from '../records/item.js'
import { decodeRecord, hasKind, type DecodedRecord } from '../records/record.js'
import type { Store } from '../store/store.js'
import { yieldLoop, type SearchIndex } from './search-index.js'

export interface IndexerDeps {
  index: SearchIndex
  store: Pick<Store<GroupId>, 'listKind' | 'listGroups'>
  /** The key that opens items of `gid` at key version `kv`, if this node holds it now. */
  keyFor: (gid: GroupId, kv: number) => Uint8Array | undefined
  /** Can this node read `gid` at all now (a key ring in the vault, or an unsealed circle)? */
  readable: (gid: GroupId) => boolean
  /** The plaintext of a record this node has just sealed (its own write): taken as is, not decrypted again. */
  sealedHere?: (r: DecodedRecord<ItemBody>) => ItemPlain | undefined
  /** Every item version opened here (the copy index of erasure requests reads its source link). */
  onOpened?: (r: DecodedRecord<ItemBody>, plain: ItemPlain) => void
  /** Append-only groups: is this entry's content withheld (redacted)? Its words stay out. */
  withheld?: (r: DecodedRecord<ItemBody>) => boolean
  /** Append-only groups: the ID of the entry this record redacts, when the redaction is in force: its words leave. */
  withholds?: (r: DecodedRecord<ItemBody>) => string | undefined
}

/**
 * Items read from the store per page while (re)indexing a group; each page is
 * drained into the index (in slices, search-index.ts) before the next is read,
 * so the event loop stays free and queued plaintext stays at one page.
 */
const PAGE = 200
/** Longest synchronous stretch of a (re)index before it yields the event loop, ms: short, as every await of the node's other work (a sync session has a dozen) may wait for one. */
const SLICE_MS = 3

export class SearchIndexer {
  /** Rebuilds started: a page of an older one is not indexed. */
  private runs = 0
  /** The rebuild under way, settled when it ends (either way). */
  private building: Promise<void> | undefined

  constructor (private readonly d: IndexerDeps) {}

  /** A stored item version (the `searchable` effect). A re-encryption keeps the words: nothing to do. */
  stored (r: DecodedRecord, reencrypted: boolean): void {
    if (!reencrypted && hasKind(r, 'item')) this.item(r)
  }

  /**
   * Drop the index and build it again from every group this node can read
   * (after unlock). The index is open at once and fills page by page; until
   * the returned promise settles `complete()` says it is not whole. A newer
   * rebuild, or the index closing (lock, stop), ends this one.
   * Resolves with the items indexed, or undefined when it was ended.
   */
  rebuild (): Promise<number | undefined> {
    const run = ++this.runs
    this.d.index.close()
    this.d.index.open()
    const p = (async () => {
      let n = 0
      for (const g of this.d.store.listGroups()) {
        const k = await this.group(g.gid, run)
        if (k === undefined) return undefined
        n += k
      }
      return n
    })()
    const building = p.then(() => {}, () => {})
    this.building = building
    void building.then(() => { if (this.building === building) this.building = undefined })
    return p
  }

  /** Whether the index holds every readable item, waiting up to `ms` for a rebuild under way to end. */
  async complete (ms: number): Promise<boolean> {
    const b = this.building
    if (b === undefined) return true
    let t: NodeJS.Timeout | undefined
    await Promise.race([b, new Promise<void>(resolve => { t = setTimeout(resolve, ms) })])
    clearTimeout(t)
    return this.building === undefined
  }

  /** (Re)index one group's live items (after an unseal): how many, or undefined when `run` was overtaken or the index closed. */
  async group (gid: GroupId, run = this.runs): Promise<number | undefined> {
    const live = (): boolean => this.d.index.isOpen && run === this.runs
    if (!live()) return undefined
    if (!this.d.readable(gid)) return 0
    let after: { clock: number, rid: string } | undefined
    let n = 0
    for (;;) {
      if (!live()) return undefined
      const rows = this.d.store.listKind(gid, 'item', PAGE, after)
      if (rows.length === 0) break
      let sliceEnd = performance.now() + SLICE_MS
      for (const row of rows) {
        // Each item costs a signature check (~0.1 ms): yield the loop between slices, or a
        // large store's build holds every request of the node (drain() may not yield).
        if (performance.now() >= sliceEnd) {
          await yieldLoop()
          if (!live()) return undefined
          sliceEnd = performance.now() + SLICE_MS
        }
        after = { clock: row.clock, rid: row.rid }
        if (row.tomb !== 0) continue
        let r: DecodedRecord
        try { r = decodeRecord(row.bytes) } catch { continue }
        if (r.recordId === row.rid && Buffer.from(r.hash).equals(row.hash) && hasKind(r, 'item')) { this.item(r); n++ }
      }
      await this.d.index.drain()
      await yieldLoop()
    }
    return n
  }

  private item (r: DecodedRecord<ItemBody>): void {
    if (!this.d.index.isOpen) return
    if (r.rec.b.del) { this.d.index.remove(r.recordId); return }
    const hidden = this.d.withholds?.(r)
    if (hidden !== undefined) this.d.index.remove(hidden)
    if (this.d.withheld?.(r) === true) { this.d.index.remove(r.recordId); return }
    const key = this.d.keyFor(r.groupId, r.rec.b.kv)
    if (key === undefined) return
    try {
      const p = this.d.sealedHere?.(r) ?? openItem(r, key)
      this.d.index.put(r.recordId, r.groupId, p.type, p.content, p.meta)
      this.d.onOpened?.(r, p)
    } catch { /* unreadable items are reported when read, not indexed */ }
  }
}
