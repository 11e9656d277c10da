/**
 * Keeps the search index (search-index.ts) in step with the store: an item's
 * words go in when a version the node can open is stored, out when it is
 * deleted; a whole group is (re)indexed when its key becomes available (unlock,
 * unseal). Only what opens with a key this node holds now is indexed.
 *
 * Invariant: what is indexed from the store was verified again first (its
 * signature, its ID, its hash): a tampered record must not leak through search
 * what GET refuses (422).
 */
import type { GroupId } from '../crypto/ids.js'
import { openItem, type ItemBody } from '../records/item.js'
import { decodeRecord, hasKind, type DecodedRecord } from '../records/record.js'
import type { Store } from '../store/store.js'
import type { SearchIndex } from './search-index.js'

export interface IndexerDeps {
  index: SearchIndex
  store: Pick<Store<GroupId>, 'listKind' | 'listGroups'>
  /** The key that opens items of `gid` at key version `kv`, if this node holds it now. */
  keyFor: (gid: GroupId, kv: number) => Uint8Array | undefined
  /** Can this node read `gid` at all now (a key ring in the vault, or an unsealed circle)? */
  readable: (gid: GroupId) => boolean
}

/**
 * Items read from the store per page while (re)indexing a group; each page is
 * drained into the index (in slices, search-index.ts) before the next is read,
 * so the event loop stays free and queued plaintext stays at one page.
 */
const PAGE = 200

export class SearchIndexer {
  constructor (private readonly d: IndexerDeps) {}

  /** A stored item version (the `searchable` effect). A re-encryption keeps the words: nothing to do. */
  stored (r: DecodedRecord, reencrypted: boolean): void {
    if (!reencrypted && hasKind(r, 'item')) this.item(r)
  }

  /** Drop the index and build it again from every group this node can read (after unlock). */
  async rebuild (): Promise<void> {
    this.d.index.close()
    this.d.index.open()
    for (const g of this.d.store.listGroups()) await this.group(g.gid)
  }

  /** (Re)index one group's live items (after an unseal). */
  async group (gid: GroupId): Promise<void> {
    if (!this.d.index.isOpen || !this.d.readable(gid)) return
    let after: { clock: number, rid: string } | undefined
    for (;;) {
      if (!this.d.index.isOpen) return
      const rows = this.d.store.listKind(gid, 'item', PAGE, after)
      if (rows.length === 0) break
      for (const row of rows) {
        after = { clock: row.clock, rid: row.rid }
        if (row.tomb !== 0) continue
        let r: DecodedRecord
        try { r = decodeRecord(row.bytes) } catch { continue }
        if (r.recordId === row.rid && Buffer.from(r.hash).equals(row.hash) && hasKind(r, 'item')) this.item(r)
      }
      await this.d.index.drain()
    }
  }

  private item (r: DecodedRecord<ItemBody>): void {
    if (!this.d.index.isOpen) return
    if (r.rec.b.del) { this.d.index.remove(r.recordId); return }
    const key = this.d.keyFor(r.groupId, r.rec.b.kv)
    if (key === undefined) return
    try {
      const p = openItem(r, key)
      this.d.index.put(r.recordId, r.groupId, p.type, p.content, p.meta)
    } catch { /* unreadable items are reported when read, not indexed */ }
  }
}
