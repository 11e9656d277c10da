/**
 * scale-keeper: one keeper process holding GROUPS groups (one gossipsub topic
 * each) of ITEMS items, fed by FEEDERS entity node processes over libp2p TCP
 * (issue 14: RSS ≤ 300 MB, idle CPU ≤ 5% of a core, push latency within 1.5×
 * of the single-group figure). Runs only when named (minutes).
 *
 * Set-up: each feeder's data dir gets GROUPS/FEEDERS chatty groups of ITEMS items
 * written through its own services before it starts (fleet.ts fillGroups). Then
 * the processes: the big keeper K, a small keeper K1, the feeders, and a single-
 * group feeder S (one group of ITEMS items, built the same way). Each feeder adds
 * K to every one of its groups over its HTTP API (POST …/keepers with K's
 * address, as a user does): the descriptor is delivered, K adopts the group and
 * catches its items up by anti-entropy; S does the same with K1. Timers are the
 * defaults (chatty anti-entropy every 60 s): what a keeper really runs.
 *
 *  1  K's RSS holding everything, 3 s after the catch-up   vs K1's RSS before it held anything (an empty keeper)
 *  2  K's CPU over a quiet window of IDLE_MS, % of one core  vs K1's over the same window (holding one group)
 *  3  push latency p50 / p99: a write on a feeder (HTTP, random group) → K's
 *     `stored` SSE event, open loop at RATE/s             vs the same on S → K1, windows alternating (ABBA)
 */
import { cpus } from 'node:os'
import type { Suite, SuiteContext } from '../lib/types.js'
import { interleaved, openLoop, summarize } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { initBenchNode, startNodeProcess, type NodeProcessHandle } from '../lib/node.js'
import { openEvents } from '../lib/sse.js'
import { Arrivals } from '../lib/gossip.js'
import { sampleRss, until } from '../lib/cluster.js'
import { cpuShare, dirBytes, fillGroups, heldCounts } from '../lib/fleet.js'
import { fmtNum } from '../lib/format.js'
import { profiled } from '../lib/profile.js'
import { describeMemory, sampleMemory } from '../lib/memory.js'

const MiB = 2 ** 20
const WAIT_MS = 30_000

/** Where writes go and where their arrival is seen. */
interface PushSide { writers: Array<{ node: NodeProcessHandle, gids: string[] }>, arrivals: Arrivals<string> }

/** Open loop at `rate`/s: each write on a random group of a random writer, latency to the keeper's stored event. */
async function pushWindow (side: PushSide, rate: number, ms: number, into: number[]): Promise<number> {
  const cs = contents(64)
  const res = await openLoop({
    ratePerSec: rate, ms,
    op: async (i, due) => {
      const w = side.writers[i % side.writers.length]!
      const gid = w.gids[Math.floor(Math.random() * w.gids.length)]!
      const r = await w.node.api.call('POST', `/api/v1/groups/${gid}/items`, itemInput(cs[i & 63]!))
      if (r.status !== 201) throw new Error(`POST items → ${r.status}: ${r.text.slice(0, 200)}`)
      const at = await side.arrivals.wait((r.body as { id: string }).id, WAIT_MS)
      into.push(Number(at - due) / 1e6)
    }
  })
  if (res.errors > 0) throw new Error(`${res.errors} of ${res.errors + res.ok} writes did not reach the keeper within ${WAIT_MS / 1000} s (first: ${res.firstError})`)
  return res.perSec
}

/** Arrivals of items on one keeper, from its SSE stream. */
async function keeperArrivals (ctx: SuiteContext, k: NodeProcessHandle): Promise<Arrivals<string>> {
  const a = new Arrivals<string>(1)
  const es = openEvents(k.apiPort, k.token, '', (e, at) => { if (e.type === 'stored' && e.kind === 'item' && e.id !== undefined) a.report(e.id, 0, at) })
  ctx.defer(() => es.close())
  await es.ready
  return a
}

/** Each feeder adds `k` to each of its groups (`par` at a time per feeder). */
async function addToAll (writers: PushSide['writers'], k: NodeProcessHandle, par: number): Promise<void> {
  await Promise.all(writers.map(async w => {
    const queue = [...w.gids]
    await Promise.all(Array.from({ length: par }, async () => {
      for (let gid = queue.shift(); gid !== undefined; gid = queue.shift()) await w.node.api.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: k.peerId, multiaddr: k.multiaddr })
    }))
  }))
}

/** Until `k` holds every group of `writers` with `items` items each; returns the total it holds. */
async function awaitHeld (ctx: SuiteContext, k: NodeProcessHandle, writers: PushSide['writers'], items: number, budgetMs: number): Promise<void> {
  const want = writers.flatMap(w => w.gids)
  let last = ''
  await until(`keeper to hold ${want.length} groups × ${items} items`, async () => {
    const held = await heldCounts(k)
    const groups = want.filter(g => held.has(g)).length
    const full = want.filter(g => (held.get(g) ?? 0) >= items).length
    const line = `keeper holds ${groups} / ${want.length} groups, ${full} complete`
    if (line !== last) { ctx.log(line); last = line }
    return full === want.length
  }, budgetMs, 1000)
}

export const scaleKeeperSuite: Suite = {
  name: 'scale-keeper',
  explicit: true,
  description: 'one keeper process holding 1,000 groups (gossipsub topics) × 100 items fed over TCP: RSS, idle CPU, push latency vs one group (minutes)',
  async run (ctx) {
    const quick = ctx.quick
    const groups = quick ? 20 : Number(process.env.CAIRN_BENCH_SCALE_GROUPS ?? 1000)
    const items = quick ? 5 : 100
    const feeders = quick ? 2 : 4
    const rate = quick ? 20 : 50
    const windowMs = quick ? 1000 : 5000
    const idleMs = quick ? 2000 : 30_000

    const inits = await Promise.all([
      initBenchNode(ctx, { keeper: true }), initBenchNode(ctx, { keeper: true }), initBenchNode(ctx),
      ...Array.from({ length: feeders }, async () => await initBenchNode(ctx))
    ])
    const [kInit, k1Init, sInit, ...fInits] = inits
    const per = Math.ceil(groups / feeders)
    const t0 = Date.now()
    const fGids = await Promise.all(fInits.map(async (f, i) => await fillGroups(f!.dataDir, Math.min(per, groups - i * per), items, `scale-${i}`)))
    const sGids = await fillGroups(sInit!.dataDir, 1, items, 'single')
    ctx.log(`scale-keeper: ${groups} groups × ${items} items written on ${feeders} feeders in ${fmtNum((Date.now() - t0) / 1000)} s`)

    const [K, K1] = await Promise.all([kInit!, k1Init!].map(async k => await startNodeProcess(ctx, k.dataDir, { keeper: true }))) as [NodeProcessHandle, NodeProcessHandle]
    const fs = await Promise.all(fInits.map(async f => await startNodeProcess(ctx, f!.dataDir)))
    const S = await startNodeProcess(ctx, sInit!.dataDir)
    const big: PushSide['writers'] = fs.map((node, i) => ({ node, gids: fGids[i]! }))
    const single: PushSide['writers'] = [{ node: S, gids: sGids }]
    const bigArr = await keeperArrivals(ctx, K)
    const singleArr = await keeperArrivals(ctx, K1)

    // 1: the empty keeper, then the catch-up of everything onto K.
    await new Promise(resolve => setTimeout(resolve, 2000))
    const emptyRss = K1.memory()!.rss
    const kEmptyRss = K.memory()!.rss
    const rss = sampleRss(K, 200)
    const mem = sampleMemory(K, 2000)
    const tc = Date.now()
    await addToAll(big, K, 4)
    await awaitHeld(ctx, K, big, items, quick ? 120_000 : 20 * 60_000)
    const catchUpS = (Date.now() - tc) / 1000
    await addToAll(single, K1, 1)
    await awaitHeld(ctx, K1, single, items, 120_000)
    await new Promise(resolve => setTimeout(resolve, 3000))
    const during = rss.stop()
    const heldRss = K.memory()!.rss
    const held = await mem.stop()
    const where = held.last !== undefined ? describeMemory(held.last) : 'not sampled'
    ctx.log(`scale-keeper: K's memory: ${where}`)
    const disk = dirBytes(K.dataDir) - dirBytes(K1.dataDir)
    ctx.log(`scale-keeper: caught up in ${fmtNum(catchUpS)} s; K RSS ${fmtNum(heldRss / MiB)} MiB (peak ${fmtNum(during.peak / MiB)}), empty keeper ${fmtNum(emptyRss / MiB)} MiB`)

    // 2: a quiet window, nothing written anywhere.
    const [kCpu, k1Cpu, ...fCpu] = await profiled('scale-keeper-idle', { keeper: K }, async () => await cpuShare([K, K1, ...fs], idleMs))
    ctx.log(`scale-keeper: idle CPU K ${fmtNum(kCpu!)}%, K1 ${fmtNum(k1Cpu!)}%, feeders ${fCpu.map(c => fmtNum(c)).join(' ')}%`)

    // 3: push latency, alternating windows; one unmeasured window each first (JIT, meshes).
    const bigSide = { writers: big, arrivals: bigArr }
    const singleSide = { writers: single, arrivals: singleArr }
    const scratch: number[] = []
    await pushWindow(bigSide, rate, windowMs / 2, scratch)
    await pushWindow(singleSide, rate, windowMs / 2, scratch)
    const bigLat: number[] = []
    const singleLat: number[] = []
    await profiled('scale-keeper-push', { keeper: K, keeper1: K1 }, async () => await interleaved(2,
      async () => await pushWindow(bigSide, rate, windowMs, bigLat),
      async () => await pushWindow(singleSide, rate, windowMs, singleLat)))
    const lb = summarize(bigLat)
    const ls = summarize(singleLat)
    const afterRss = K.memory()!.rss
    ctx.log(`scale-keeper: push p50/p99 ${fmtNum(lb.p50)} / ${fmtNum(lb.p99)} ms with ${groups} groups; ${fmtNum(ls.p50)} / ${fmtNum(ls.p99)} ms with one`)

    const shared = `K, K1, ${feeders} feeders, the single-group feeder and the harness share ${cpus().length} cores`
    const pushNote = `open loop ${rate} writes/s, 2 × ${windowMs / 1000} s windows each (ABBA), write on a feeder's HTTP API (random group of ${groups}) → stored event on K's SSE stream, vs the single-group feeder → K1; ${shared}`
    return [
      ctx.result({
        name: `keeper RSS holding ${groups} groups × ${items} items`,
        value: heldRss / MiB, unit: 'MiB',
        baseline: { name: 'an empty keeper process, same run', value: emptyRss / MiB, unit: 'MiB' },
        target: { op: '<=', value: 300 * 1e6 / MiB },
        notes: `3 s after the catch-up; peak during the catch-up ${fmtNum(during.peak / MiB)} MiB; K itself empty: ${fmtNum(kEmptyRss / MiB)} MiB; after the push windows ${fmtNum(afterRss / MiB)} MiB; disk: ${fmtNum(disk / MiB)} MiB more than the one-group keeper's data dir (${fmtNum(disk / (groups * items))} B per item, WAL included); catch-up of ${groups * items} items in ${groups} groups (POST …/keepers on each feeder, 4 at a time) took ${fmtNum(catchUpS)} s; where it is (the last 2 s sample, bench/lib/memory.ts): ${where}; target 300 MB = ${fmtNum(300 * 1e6 / MiB)} MiB`,
        details: { groups, items, feeders, diskBytes: disk, diskPerItem: disk / (groups * items), peakMiB: during.peak / MiB, kEmptyMiB: kEmptyRss / MiB, afterPushMiB: afterRss / MiB, catchUpS }
      }),
      ctx.result({
        name: `keeper idle CPU holding ${groups} groups`,
        value: kCpu!, unit: '% of a core',
        baseline: { name: 'a keeper holding one group, same window', value: k1Cpu!, unit: '% of a core' },
        target: { op: '<=', value: 5 },
        notes: `utime+stime from /proc/<pid>/stat over ${idleMs / 1000} s with nothing written, default timers (gossipsub heartbeat 700 ms, chatty anti-entropy every 60 s per group); feeders in the same window: ${fCpu.map(c => fmtNum(c)).join(', ')}%`,
        details: { idleMs, feederCpu: fCpu.map(c => fmtNum(c)).join(' ') }
      }),
      ctx.result({
        name: `push write → stored on the keeper p50, ${groups} groups`,
        value: lb.p50, unit: 'ms',
        baseline: { name: 'the same with one group, same run', value: ls.p50, unit: 'ms' },
        target: { op: '<=', value: 1.5 * ls.p50 },
        notes: `${pushNote}; target = 1.5 × the single-group figure`,
        details: { n: lb.n, p90: lb.p90, max: lb.max, baselineN: ls.n, baselineP90: ls.p90, baselineMax: ls.max }
      }),
      ctx.result({
        name: `push write → stored on the keeper p99, ${groups} groups`,
        value: lb.p99, unit: 'ms',
        baseline: { name: 'the same with one group, same run', value: ls.p99, unit: 'ms' },
        target: { op: '<=', value: 1.5 * ls.p99 },
        notes: 'target = 1.5 × the single-group figure',
        details: { n: lb.n, max: lb.max, baselineN: ls.n, baselineMax: ls.max }
      })
    ]
  }
}
