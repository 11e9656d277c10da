/**
 * The re-encryption job after a key rotation: every live item still under an
 * older key version is re-sealed under the current one, in steps of up to
 * BATCH items (and about STEP_BYTES of records) per transaction, yielding to the
 * event loop between them. A step's work per record runs on a worker thread
 * while the step before is stored (reencrypt-thread.ts). Old key
 * versions stay in the ring, so items read throughout. Idempotent: a restart
 * picks up whatever is still stale. Done means done: the job fails, naming the
 * reason, if any item could not be re-encrypted (append-only entries are
 * re-encrypted like any other: their links survive, records/ao-link.ts).
 * Each batch is signed once (a Merkle root over its records, each carrying its
 * path: docs/RECORDS.md, "Batch-signed records"): the one signature per record
 * was the job's largest cost.
 */
import type { GroupId } from '../crypto/ids.js'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { sealBatch } from '../records/record.js'
import type { JobFn } from '../jobs/job-runner.js'
import { CairnError } from '../util/errors.js'
import { requireChain, requireVault } from './access.js'
import type { GroupContext } from './context.js'
import { ReencryptThread, type StepResult } from './reencrypt-thread.js'

/** Items per transaction and per signed batch (≤ MAX_BATCH_LEAVES): one fsync and one signature each; small enough to keep the event loop responsive. */
const BATCH = 1000
/** About the bytes of records a step reads (two steps are in hand at once: one on the thread, one being stored). */
const STEP_BYTES = 8 * 1024 * 1024
/** The first step's items, before the group's record size is known (items run up to ~2 MiB each). */
const FIRST_STEP = 64

/** The next step's item count, from the bytes of the one before: BATCH for small items, fewer for large ones. */
export function stepSize (rows: number, bytes: number): number {
  if (rows === 0 || bytes <= 0) return BATCH
  return Math.max(1, Math.min(BATCH, Math.floor(STEP_BYTES / (bytes / rows))))
}

interface Step { rows: number, kv: number, last: string, work: Promise<StepResult> }

/** `warn`: said when the job's worker thread fails and the job goes on on the main thread (slower). */
export function reencryptJob (ctx: GroupContext, keyFor: (gid: GroupId, kv: number) => Uint8Array, warn?: (msg: string) => void): JobFn {
  return async (h) => {
    const gid = h.gid
    const target = () => requireChain(ctx, gid).current().kv
    let done = h.resumedFrom
    h.setTotal(done + ctx.store.countStaleItems(gid, target()))
    const thread = new ReencryptThread(why => warn?.(`re-encryption of group ${gid}: its worker thread failed (${why}); the job goes on on the main thread, more slowly`))
    /** The next step's stale items after `after`, handed to the thread; undefined when there are none. */
    let limit = FIRST_STEP
    const begin = (after: string): Step | undefined => {
      const kv = target()
      const rows = ctx.store.staleItems(gid, kv, after, limit)
      if (rows.length === 0) return undefined
      limit = stepSize(rows.length, rows.reduce((n, r) => n + r.size, 0))
      const keys = [...new Set(rows.map(r => r.kv))].map((v): [number, Uint8Array] => [v, keyFor(gid, v)])
      const signer = requireVault(ctx).entityKey().publicKey
      return { rows: rows.length, kv, last: rows[rows.length - 1]!.rid, work: thread.run({ rows, keys, kv, key: keyFor(gid, kv), signer }) }
    }
    try {
      let passes = 0
      let next = begin('')
      for (;;) {
        if (h.signal.aborted) throw new CairnError('UNAVAILABLE', 'stopped')
        const step = next
        if (step === undefined) {
          // Items that arrived under an older key behind the scan (sync from a peer
          // that wrote before it saw the rotation): one more pass from the start.
          if (++passes > 1 || ctx.store.countStaleItems(gid, target()) === 0) break
          next = begin('')
          continue
        }
        const res = await step.work
        if (!res.ok) throw new CairnError(res.code, res.message)
        // The next step is re-encrypted on the thread while this one is stored.
        // A version stored meanwhile (an edit, a delete) is newer than that
        // step's re-encryption of it, which is then refused as stale, harmlessly.
        next = begin(step.last)
        const stored = ctx.acceptor.ingest(sealBatch(requireVault(ctx).entityKey(), res.us, res.leaves), 'local')
        // A refused re-encryption leaves that item under the old key, which a removed
        // member may hold: the job fails and says so rather than report done.
        const refused = stored.filter(x => x.status === 'rejected')
        if (refused.length > 0) {
          const why = [...new Set(refused.map(x => x.reason ?? 'rejected'))].join(', ')
          throw new CairnError('INTEGRITY', `${refused.length} of ${step.rows} items could not be re-encrypted under key version ${step.kv} (${why}); they are still under an older key`)
        }
        ctx.store.bumpKeyUsage(gid, step.kv, step.rows)
        done += step.rows
        h.progress(done)
        await yieldLoop()
      }
    } finally {
      await thread.close()
    }
    const left = ctx.store.countStaleItems(gid, target())
    if (left > 0) throw new CairnError('INTEGRITY', `${left} items are still under an older key version after re-encryption`)
    ctx.audit.record('reencryption-done', { groupId: gid, keyVersion: target(), items: done })
  }
}
