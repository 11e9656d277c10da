/**
 * store: acknowledged item writes per second through the real store path,
 * against raw SQLite inserts of the same bytes.
 *
 *  value     ItemService.create on a node's real SQLite file (WAL,
 *            synchronous=FULL), one call after another, each its own
 *            acknowledged write: seal (pad + AES-GCM), sign (Ed25519), gates,
 *            last-writer-wins, commit, `stored` event (search index).
 *  baseline  raw better-sqlite3 INSERT of envelopes of the same size, same
 *            pragmas, one transaction per row (bench/lib/sqlite-baseline.ts),
 *            measured in windows interleaved with the value's.
 *
 * A second row shows the same path with 100 writes per transaction, against
 * raw inserts in one transaction: the CPU cost of the path with fsync
 * amortised, which tells whether a gap comes from commits or from code.
 */
import type { BenchResult, Suite } from '../lib/types.js'
import { interleaved, measureRate, now, summarize } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { openLocalServices } from '../lib/node.js'
import { ONE_TX_NAME, PER_ROW_NAME, rawInserts } from '../lib/sqlite-baseline.js'
import { fmtNum } from '../lib/format.js'

const samples = (xs: number[]): string => xs.map(x => Math.round(x)).join(' ')

export const storeSuite: Suite = {
  name: 'store',
  description: 'item writes/s through ItemService on real SQLite (synchronous=FULL) vs raw better-sqlite3 inserts',
  async run (ctx) {
    const runs = ctx.quick ? 1 : 3
    const windowMs = ctx.quick ? 200 : 2000
    const { s } = await openLocalServices(ctx)
    const raw = rawInserts(ctx)
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
    const single = await interleaved(runs, () => measureRate(write, { ms: windowMs }).perSec, () => raw.perRow(windowMs))
    const lat = summarize(latencies)
    const held = s.store.countLive(g.id, 'item')
    ctx.log(`store path: ${Math.round(single.a.median)} writes/s; raw: ${Math.round(single.b.median)} rows/s`)

    const perTx = 100
    const batch = (): void => { s.store.tx(() => { for (let i = 0; i < perTx; i++) s.items.create(g.id, itemInput(cs[n++ & 255]!)) }) }
    const batched = await interleaved(runs,
      () => measureRate(batch, { ms: windowMs / 2, minOps: 2 }).perSec * perTx,
      () => raw.oneTx(ctx.quick ? 2_000 : 20_000))

    const envelope = s.store.listKind(g.id, 'item', 1)[0]!.size
    const out: BenchResult[] = [
      ctx.result({
        name: 'item writes/s, ItemService.create, 1 tx each',
        value: single.a.median, unit: 'items/s',
        baseline: { name: PER_ROW_NAME, value: single.b.median, unit: 'rows/s' },
        notes: `write latency p50 ${fmtNum(lat.p50)} ms, p99 ${fmtNum(lat.p99)} ms; envelope ${envelope} B (baseline rows ${raw.rowBytes} B); the node held 0 → ${fmtNum(held)} items during the runs`,
        details: { runs, windowMs, samples: samples(single.a.samples), baselineSamples: samples(single.b.samples), p50Ms: lat.p50, p99Ms: lat.p99, envelopeBytes: envelope, heldItemsAtEnd: held }
      }),
      ctx.result({
        name: `item writes/s, ItemService.create, ${perTx} per tx`,
        value: batched.a.median, unit: 'items/s',
        baseline: { name: ONE_TX_NAME, value: batched.b.median, unit: 'rows/s' },
        notes: 'fsync amortised: the CPU cost of seal + sign + gates + store + search index per item',
        details: { runs, perTx, samples: samples(batched.a.samples), baselineSamples: samples(batched.b.samples) }
      })
    ]
    return out
  }
}
