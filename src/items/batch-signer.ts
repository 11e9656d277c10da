/**
 * One signature for the new items of a group commit batch (docs/RECORDS.md,
 * "Batch-signed records"). Under 64 concurrent writers a batch holds ~20
 * writes; signing each cost the node an Ed25519 signature and every keeper and
 * member an Ed25519 verify per item, 85–120 µs apiece on this machine and the
 * largest single cost of a pushed record on a keeper. Staged here, the batch's
 * new items of one group are signed as one Merkle root (envelope.ts signBatch):
 * receivers verify the root once (records/batch.ts remembers it) and hash a path
 * per item. A batch's only item of its group is signed alone, as before.
 *
 * Only new items of groups that are not append-only are staged: a new version
 * names the head it replaces and an append-only entry the heads before it, both
 * read when the write runs, so those are stored at once (a later write of the
 * same batch must see them).
 */
import { signBatch, signRecord, MAX_BATCH_LEAVES, type Unsigned, type VerifiedRecord } from '../records/record.js'
import type { ItemBody } from '../records/item.js'
import type { SigningKey } from '../crypto/sign.js'
import { toHex } from '../crypto/bytes.js'
import type { GroupCommit } from '../store/group-commit.js'

interface Staged { key: SigningKey, u: Unsigned<ItemBody>, signed?: VerifiedRecord<ItemBody> }

export class BatchSigner {
  /** The new items of batch `stagedIn` (a batch whose transaction failed before its signing step leaves its own here: the next batch drops them). */
  private staged: Staged[] = []
  private stagedIn: number | undefined
  private readonly signStaged = (): void => { this.signAll() }

  constructor (private readonly writes: Pick<GroupCommit, 'later' | 'beforeLater' | 'batchSeq'>) {}

  /**
   * In a group commit's write: sign `u` with the batch's other new items of its
   * group and call `store` with it in the batch's second pass. False outside a
   * batch: the caller signs and stores it now.
   */
  stage (key: SigningKey, u: Unsigned<ItemBody>, store: (r: VerifiedRecord<ItemBody>) => void): boolean {
    const batch = this.writes.batchSeq()
    if (batch === undefined) return false
    const s: Staged = { key, u }
    if (!this.writes.later(() => { store(s.signed!) })) return false
    if (batch !== this.stagedIn) { this.staged = []; this.stagedIn = batch }
    this.writes.beforeLater(this.signStaged)
    this.staged.push(s)
    return true
  }

  private signAll (): void {
    const staged = this.staged
    this.staged = []
    const byGroup = new Map<string, Staged[]>()
    for (const s of staged) {
      const k = `${s.u.groupId} ${toHex(s.key.publicKey)}`
      const g = byGroup.get(k)
      if (g === undefined) byGroup.set(k, [s]); else g.push(s)
    }
    for (const g of byGroup.values()) {
      for (let i = 0; i < g.length; i += MAX_BATCH_LEAVES) {
        const part = g.slice(i, i + MAX_BATCH_LEAVES)
        if (part.length === 1) { part[0]!.signed = signRecord(part[0]!.key, part[0]!.u); continue }
        signBatch(part[0]!.key, part.map(s => s.u)).forEach((r, j) => { part[j]!.signed = r })
      }
    }
  }
}
