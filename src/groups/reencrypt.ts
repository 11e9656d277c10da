/**
 * The re-encryption job after a key rotation: every live item still under an
 * older key version is re-sealed under the current one, in batches of
 * BATCH per transaction, yielding to the event loop between batches. Old key
 * versions stay in the ring, so items read throughout. Idempotent: a restart
 * picks up whatever is still stale.
 */
import type { GroupId } from '../crypto/ids.js'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { reencryptItem } from '../records/item.js'
import { fromStore } from '../records/record.js'
import type { JobFn } from '../jobs/job-runner.js'
import { CairnError } from '../util/errors.js'
import { requireChain, requireVault } from './access.js'
import type { GroupContext } from './context.js'

/** Items per transaction: one fsync each; small enough to keep the event loop responsive. */
const BATCH = 1000

export function reencryptJob (ctx: GroupContext, keyFor: (gid: GroupId, kv: number) => Uint8Array): JobFn {
  return async (h) => {
    const gid = h.gid
    const target = () => requireChain(ctx, gid).current().kv
    let done = h.resumedFrom
    h.setTotal(done + ctx.store.countStaleItems(gid, target()))
    let after = ''
    for (;;) {
      if (h.signal.aborted) throw new CairnError('UNAVAILABLE', 'stopped')
      const kv = target()
      const rows = ctx.store.staleItems(gid, kv, after, BATCH)
      if (rows.length === 0) break
      const me = requireVault(ctx).entityKey()
      const newKey = keyFor(gid, kv)
      ctx.acceptor.ingest(rows.map(row => reencryptItem(fromStore(row, 'item'), keyFor(gid, row.kv), me, kv, newKey)), 'local')
      ctx.store.bumpKeyUsage(gid, kv, rows.length)
      after = rows[rows.length - 1]!.rid
      done += rows.length
      h.progress(done)
      await yieldLoop()
    }
    ctx.audit.record('reencryption-done', { groupId: gid, keyVersion: target(), items: done })
  }
}
