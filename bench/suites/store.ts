/**
 * store: acknowledged item writes per second through the real store path,
 * against raw SQLite inserts of the same bytes.
 *
 *  value     ItemService.create on a node's real SQLite file (WAL,
 *            synchronous=FULL), one call after another, each its own
 *            acknowledged write: seal (pad + AES-GCM), sign (Ed25519), gates,
 *            last-writer-wins, commit, `stored` event (search index).
 *  baseline  raw better-sqlite3 INSERT of ~1.3 KiB envelopes, same pragmas,
 *            one transaction per row (bench/lib/sqlite-baseline.ts).
 *
 * A second row shows the same path with 100 writes per transaction, against
 * raw inserts in one transaction: the CPU cost of the path with fsync
 * amortised, which tells whether a gap comes from commits or from code.
 */
import type { BenchResult, Suite } from '../lib/types.js'
import { medianOf, measureRate, now, summarize } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { openLocalServices } from '../lib/node.js'
import { sqliteBaseline } from '../lib/sqlite-baseline.js'
import { fmtNum } from '../lib/format.js'

export const storeSuite: Suite = {
  name: 'store',
  description: 'item writes/s through ItemService on real SQLite (synchronous=FULL) vs raw better-sqlite3 inserts',
  async run (ctx) {
    const runs = ctx.quick ? 1 : 3
    const windowMs = ctx.quick ? 200 : 2000
    const { s } = await openLocalServices(ctx)
    const g = s.groups.create({ name: 'bench-store' })
    const cs = contents(256)
    let n = 0
    const latencies: number[] = []
    const write = (): void => {
      const t = now()
      s.items.create(g.id, itemInput(cs[n++ & 255]!))
      latencies.push(Number(now() - t) / 1e6)
    }

    measureRate(write, { ms: ctx.quick ? 20 : 300 })
    latencies.length = 0
    const single = await medianOf(runs, () => measureRate(write, { ms: windowMs }).perSec)
    const lat = summarize(latencies)
    const held = s.store.countLive(g.id, 'item')
    ctx.log(`store path: ${Math.round(single.median)} writes/s`)

    const perTx = 100
    const batch = (): void => { s.store.tx(() => { for (let i = 0; i < perTx; i++) s.items.create(g.id, itemInput(cs[n++ & 255]!)) }) }
    const batched = await medianOf(runs, () => measureRate(batch, { ms: windowMs / 2, minOps: 2 }).perSec * perTx)

    const envelope = s.store.listKind(g.id, 'item', 1)[0]!.size
    const base = await sqliteBaseline(ctx)
    const out: BenchResult[] = [
      ctx.result({
        name: 'item writes/s, ItemService.create, 1 tx each',
        value: single.median, unit: 'items/s',
        baseline: { name: 'raw better-sqlite3 INSERT, 1 tx per row', value: base.perRow, unit: 'rows/s' },
        notes: `write latency p50 ${fmtNum(lat.p50)} ms, p99 ${fmtNum(lat.p99)} ms; envelope ${envelope} B (baseline rows ${base.rowBytes} B); raw inserts in one transaction: ${fmtNum(base.oneTx)} rows/s; the node held 0 → ${fmtNum(held)} items during the runs`,
        details: { runs, windowMs, samples: single.samples.map(x => Math.round(x)).join(' '), p50Ms: lat.p50, p99Ms: lat.p99, envelopeBytes: envelope, heldItemsAtEnd: held, baselineOneTxRowsPerSec: Math.round(base.oneTx) }
      }),
      ctx.result({
        name: `item writes/s, ItemService.create, ${perTx} per tx`,
        value: batched.median, unit: 'items/s',
        baseline: { name: 'raw better-sqlite3 INSERT, all rows in 1 tx', value: base.oneTx, unit: 'rows/s' },
        notes: 'fsync amortised: the CPU cost of seal + sign + gates + store + search index per item',
        details: { runs, perTx }
      })
    ]
    return out
  }
}
