/**
 * rotation: re-encryption throughput after a key rotation (SPEC §8: ≥ 20,000
 * items/s).
 *
 *  value     a group of ITEMS items written through ItemService; then
 *            GroupService.rotate (new descriptor + key version) and the
 *            background `reencrypt` job run to `done`; items / elapsed time,
 *            from the rotate call to the job's end. Median of 3 rotations of
 *            the same group (each re-encrypts every item again).
 *  baseline  reencryptItem (decrypt + encrypt + Ed25519 sign + encode; what
 *            each item needs at minimum) on the same records in a tight loop,
 *            no store: the ratio is the share of the crypto floor the job
 *            achieves, and 1 − ratio the overhead of the store path.
 */
import { randomBytes } from 'node:crypto'
import { reencryptItem, type ItemBody } from '../../src/records/item.js'
import { trustedRecord, type VerifiedRecord } from '../../src/records/record.js'
import type { Suite } from '../lib/types.js'
import { medianOf, measureRate, now, msSince } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { openLocalServices } from '../lib/node.js'
import { fmtNum } from '../lib/format.js'

export const rotationSuite: Suite = {
  name: 'rotation',
  description: 're-encrypt items/s of a rotation job over 20,000 items vs a tight reencryptItem loop',
  async run (ctx) {
    const items = ctx.quick ? 300 : 20_000
    const runs = ctx.quick ? 1 : 3
    const { s } = await openLocalServices(ctx)
    const g = s.groups.create({ name: 'bench-rotation' })
    const cs = contents(256)

    // Setup, not measured: writes go through ItemService, 1,000 per transaction.
    const setupStart = now()
    for (let done = 0; done < items;) {
      const k = Math.min(1000, items - done)
      s.store.tx(() => { for (let i = 0; i < k; i++) s.items.create(g.id, itemInput(cs[(done + i) & 255]!)) })
      done += k
    }
    ctx.log(`wrote ${items} items in ${Math.round(msSince(setupStart))} ms`)

    const rotation = await medianOf(runs, async () => {
      const t = now()
      const job = s.groups.rotate(g.id)
      const v = await s.jobs.settle(job.id)
      const ms = msSince(t)
      if (v === undefined || v.state !== 'done') throw new Error(`rotation job ended ${v?.state ?? 'missing'}: ${v?.error ?? ''}`)
      if (v.done !== items) throw new Error(`rotation job re-encrypted ${v.done} of ${items} items`)
      const stale = s.store.countStaleItems(g.id, s.groups.view(g.id).keyVersion)
      if (stale !== 0) throw new Error(`${stale} items still under an old key after the job`)
      ctx.log(`rotation: ${items} items in ${Math.round(ms)} ms`)
      return items / (ms / 1000)
    })

    // Baseline on the same records, as they are now (under the current key).
    const kv = s.groups.view(g.id).keyVersion
    const oldKey = s.groups.keyFor(g.id, kv)
    const newKey = new Uint8Array(randomBytes(32))
    const me = s.vault!.entityKey()
    const recs = s.store.listKind(g.id, 'item', Math.min(items, 5000)).map(r => trustedRecord(r.bytes, r.hash) as VerifiedRecord<ItemBody>)
    const one = (i: number): unknown => reencryptItem(recs[i % recs.length]!, oldKey, me, kv + 1, newKey)
    measureRate(one, { ms: ctx.quick ? 20 : 300 })
    const floor = await medianOf(runs, () => measureRate(one, { ms: ctx.quick ? 100 : 1000 }).perSec)

    return [ctx.result({
      name: `re-encrypt on rotation, ${fmtNum(items)} items`,
      value: rotation.median, unit: 'items/s',
      baseline: { name: 'reencryptItem tight loop (decrypt+encrypt+sign)', value: floor.median, unit: 'items/s' },
      target: { op: '>=', value: 20_000 },
      notes: `job time from rotate() to done, median of ${runs} rotations (${rotation.samples.map(x => fmtNum(x)).join(', ')} items/s)`,
      details: { items, runs, samples: rotation.samples.map(x => Math.round(x)).join(' '), baselineSamples: floor.samples.map(x => Math.round(x)).join(' ') }
    })]
  }
}
