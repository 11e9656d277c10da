/**
 * Tombstone retention: a deleted item's ciphertext is gone as soon as its
 * tombstone is stored (the head is replaced, history purged); the tombstone
 * itself is kept `retentionMs` so it can still replicate to peers that were
 * away, then removed. A peer that stays away longer than the retention and still
 * holds the live version can resurrect it: pick the retention accordingly.
 */
import type { GroupId } from '../crypto/ids.js'
import type { Store } from '../store/store.js'
import type { TypedEmitter } from '../util/events.js'
import type { AcceptorEvents } from './acceptor.js'

export function purgeExpiredTombstones (store: Store<GroupId>, events: TypedEmitter<AcceptorEvents>, retentionMs: number, now = Date.now()): number {
  let n = 0
  for (;;) {
    const batch = store.expiredTombstones(now - retentionMs, 500)
    if (batch.length === 0) break
    const removed = new Map<GroupId, Uint8Array[]>()
    store.tx(() => {
      for (const { gid, rid } of batch) {
        const head = store.getHeadMeta(gid, rid)
        if (head === undefined) continue
        store.deleteHead(gid, rid)
        store.purgeHistory(gid, rid)
        removed.set(gid, [...(removed.get(gid) ?? []), new Uint8Array(head.hash)])
        n++
      }
    })
    for (const [groupId, hashes] of removed) events.emit('removed', { groupId, hashes })
  }
  return n
}
