/**
 * replication: write → stored on two keepers, through real processes on
 * loopback (SPEC §8: p50 ≤ 5 ms, p99 ≤ 25 ms at 200 writes/s of 1 KB items;
 * sustained ≥ 2,000 items/s with p99 ≤ 100 ms).
 *
 * Set-up: an agent node and two keepers, each a Daemon in its own process
 * (bench/lib/daemon-child.ts, as `cairn start`); the agent's personal group gets
 * both keepers (POST /api/v1/groups/:gid/keepers {peerId, multiaddr}) and the
 * suite waits until both hold it and push works end to end.
 *
 * "Stored" is observed on each keeper's `GET /api/v1/events` SSE stream (event
 * `stored` with the item's id), read by the harness: latency = the write's
 * scheduled start (harness clock) → the later of the two keepers' events (harness
 * clock when its bytes arrived). The writes go through the agent's HTTP API
 * (POST /api/v1/groups/:gid/items, 1 KiB items).
 *
 *  1, 2  latency p50 / p99, open loop at RATE writes/s (writes start on schedule
 *        whatever the answers do)
 *  3, 4  sustained: CONCURRENCY closed-loop clients, each writing its next item
 *        once the previous one is stored on both keepers; items stored on both per
 *        second, and the p99 of that latency
 *
 *  baseline  raw gossipsub between three other processes (bench/lib/gossip-child.ts:
 *            cairn's createNetwork, same stack and settings, StrictNoSign): a
 *            publisher and two subscribers on a plain topic, messages of the record
 *            envelope's size; publish → delivered on both subscribers, measured
 *            the same way (the publish command goes over IPC as the write goes over
 *            HTTP; deliveries come back over IPC as stored events come over SSE),
 *            at the same rate and with the same closed loop, in windows alternating
 *            with cairn's (ABBA).
 */
import { cpus } from 'node:os'
import type { Suite, SuiteContext } from '../lib/types.js'
import { closedLoop, interleaved, msSince, now, openLoop, sleep, summarize, type LoadResult } from '../lib/timing.js'
import { contents, itemInput, sampleEnvelopes } from '../lib/items.js'
import { initBenchNode, startNodeProcess, type NodeProcessHandle } from '../lib/node.js'
import { openEvents } from '../lib/sse.js'
import { Arrivals, startGossipProcess, type GossipProcess } from '../lib/gossip.js'
import { addKeeper, peersOf, until } from '../lib/cluster.js'
import { fmtNum } from '../lib/format.js'
import { profiled } from '../lib/profile.js'
import { cpuMeter, type CpuMeter } from '../lib/cpu-meter.js'

const RATE = 200
const WAIT_MS = 30_000

interface Side {
  name: string
  /** Start one write/publish; resolves with the harness time at which both receivers had it. */
  one: (seq: number) => Promise<bigint>
  /** For cairn: latency of the 201 alone. */
  ackLat: number[]
  arrivals: Arrivals<string>
}

/** The cairn side: agent + two keepers, personal group kept by both, SSE readers. */
async function cairnSide (ctx: SuiteContext, concurrency: number): Promise<Side & { agent: NodeProcessHandle, keepers: NodeProcessHandle[], gid: string }> {
  const [agentInit, k1Init, k2Init] = await Promise.all([initBenchNode(ctx), initBenchNode(ctx, { keeper: true }), initBenchNode(ctx, { keeper: true })])
  const keepers = await Promise.all([k1Init!, k2Init!].map(async k => await startNodeProcess(ctx, k.dataDir, { keeper: true })))
  const agent = await startNodeProcess(ctx, agentInit!.dataDir, { maxSockets: concurrency + 4 })
  const gid = agentInit!.personalGroupId!
  for (const k of keepers) await addKeeper(agent, gid, k)
  const arrivals = new Arrivals<string>(keepers.length)
  for (const [i, k] of keepers.entries()) {
    const es = openEvents(k.apiPort, k.token, `?group=${gid}`, (e, at) => { if (e.type === 'stored' && e.kind === 'item' && e.id !== undefined) arrivals.report(e.id, i, at) })
    ctx.defer(() => es.close())
    await es.ready
  }
  const cs = contents(256)
  const path = `/api/v1/groups/${gid}/items`
  const ackLat: number[] = []
  const one = async (seq: number): Promise<bigint> => {
    const t = now()
    const r = await agent.api.call('POST', path, itemInput(cs[seq & 255]!))
    if (r.status !== 201) throw new Error(`POST items → ${r.status}: ${r.text.slice(0, 200)}`)
    ackLat.push(msSince(t))
    return await arrivals.wait((r.body as { id: string }).id, WAIT_MS)
  }
  return { name: 'cairn', one, ackLat, arrivals, agent, keepers, gid }
}

/** The raw side: publisher + two subscribers (gossip-child.ts), topology as cairn's. */
async function rawSide (ctx: SuiteContext, keepersMeshed: boolean): Promise<Side & { procs: GossipProcess[] }> {
  const [pub, s1, s2] = await Promise.all([startGossipProcess(ctx), startGossipProcess(ctx), startGossipProcess(ctx)])
  const subs = [s1!, s2!]
  const topic = 'bench/raw-gossip'
  for (const p of [pub!, ...subs]) await p.ctl.call('subscribe', { topic })
  for (const s of subs) await pub!.ctl.call('dial', { addr: s.multiaddr })
  if (keepersMeshed) await s1!.ctl.call('dial', { addr: s2!.multiaddr })
  await until('the raw publisher to have both subscribers in its mesh', async () => {
    const m = await pub!.ctl.call<{ mesh: string[] }>('mesh', { topic })
    return subs.every(s => m.mesh.includes(s.peerId))
  }, 30_000, 50)
  const size = sampleEnvelopes(1)[0]!.length
  const arrivals = new Arrivals<string>(subs.length)
  subs.forEach((s, i) => s.ctl.on(e => { if (e.event === 'delivered') { const at = now(); for (const q of e.seqs as number[]) arrivals.report(String(q), i, at) } }))
  const one = async (seq: number): Promise<bigint> => {
    pub!.ctl.cast('publish', { topic, seq, size })
    return await arrivals.wait(String(seq), WAIT_MS)
  }
  return { name: 'raw gossipsub', one, ackLat: [], arrivals, procs: [pub!, ...subs] }
}

/** Seq numbers unique per side across windows. */
function counter (): () => number { let n = 0; return () => n++ }

/** Open loop at `rate`/s for `ms`: latency = scheduled start → both receivers. */
async function fixedRate (side: Side, next: () => number, rate: number, ms: number, into: number[]): Promise<LoadResult> {
  return await openLoop({
    ratePerSec: rate, ms,
    op: async (_i, due) => { const at = await side.one(next()); into.push(Number(at - due) / 1e6) }
  })
}

/** Closed loop: `concurrency` clients, each one write → both receivers, back to back. */
async function saturate (side: Side, next: () => number, concurrency: number, ms: number, warmupMs: number, into: number[]): Promise<LoadResult> {
  return await closedLoop({
    concurrency, ms, warmupMs,
    op: async () => { const t = now(); const at = await side.one(next()); into.push(Number(at - t) / 1e6) }
  })
}

/** Until `n` writes in a row reach both receivers by push within `perMs` each. */
async function warm (ctx: SuiteContext, side: Side, next: () => number, n: number, perMs: number): Promise<void> {
  let streak = 0
  const end = Date.now() + 60_000
  while (streak < n) {
    if (Date.now() > end) throw new Error(`${side.name}: writes did not reach both receivers within ${perMs} ms, ${n} in a row, for 60 s`)
    const t = now()
    try {
      await Promise.race([side.one(next()), sleep(perMs).then(() => { throw new Error('slow') })])
      streak = msSince(t) <= perMs ? streak + 1 : 0
    } catch { streak = 0 }
  }
  ctx.log(`${side.name}: ${n} writes in a row reached both receivers`)
}

export const replicationSuite: Suite = {
  name: 'replication',
  description: 'write → stored on 2 keeper processes (SSE): latency at 200 writes/s and sustained items/s, vs raw gossipsub between 3 processes',
  async run (ctx) {
    const quick = ctx.quick
    const latWindowMs = quick ? 1000 : 5000
    const latRuns = 2
    const satWindowMs = quick ? 600 : 3000
    const satRuns = quick ? 2 : 3
    const concurrency = quick ? 16 : 64

    const c = await cairnSide(ctx, concurrency)
    const keepersMeshed = (await peersOf(c.keepers[0]!)).includes(c.keepers[1]!.peerId)
    const r = await rawSide(ctx, keepersMeshed)
    const nextC = counter()
    const nextR = counter()
    await warm(ctx, c, nextC, quick ? 5 : 20, 1000)
    await warm(ctx, r, nextR, quick ? 5 : 20, 1000)
    // A window at the measured rate, not counted: JIT, pools and caches of both sides warm up.
    const scratch: number[] = []
    await fixedRate(c, nextC, RATE, quick ? 300 : 3000, scratch)
    await fixedRate(r, nextR, RATE, quick ? 300 : 3000, scratch)

    // 1, 2: fixed rate, alternating windows.
    const cLat: number[] = []
    const rLat: number[] = []
    const errs = { c: 0, r: 0, first: undefined as string | undefined }
    const tally = (res: LoadResult, which: 'c' | 'r'): number => { errs[which] += res.errors; errs.first ??= res.firstError; return res.perSec }
    c.ackLat.length = 0
    const nodes = { agent: c.agent, keeper1: c.keepers[0]!, keeper2: c.keepers[1]! }
    // CPU per write of every process, each side over its own windows: the machine's two
    // cores are what a closed loop's rate is spent from, whatever each process's idle share.
    const cpuOf = (): { c: CpuMeter, r: CpuMeter } => ({
      c: cpuMeter({ agent: c.agent.proc.pid!, keeper1: c.keepers[0]!.proc.pid!, keeper2: c.keepers[1]!.proc.pid! }),
      r: cpuMeter({ publisher: r.procs[0]!.pid, subscriber1: r.procs[1]!.pid, subscriber2: r.procs[2]!.pid })
    })
    const cpu200 = cpuOf()
    await profiled('replication-200', nodes, async () => await interleaved(latRuns,
      async () => tally(await cpu200.c.around(() => cLat.length, async () => await fixedRate(c, nextC, RATE, latWindowMs, cLat)), 'c'),
      async () => tally(await cpu200.r.around(() => rLat.length, async () => await fixedRate(r, nextR, RATE, latWindowMs, rLat)), 'r')))
    ctx.log(`200/s CPU per write: cairn ${cpu200.c.line()}; raw ${cpu200.r.line()}`)
    const ack200 = summarize(c.ackLat)
    if (cLat.length === 0) throw new Error(`no write reached both keepers: ${errs.first ?? 'unknown error'}`)
    const lc = summarize(cLat)
    const lr = summarize(rLat)
    ctx.log(`200/s: cairn p50 ${fmtNum(lc.p50)} p99 ${fmtNum(lc.p99)} ms; raw p50 ${fmtNum(lr.p50)} p99 ${fmtNum(lr.p99)} ms`)

    // 3, 4: closed loop, alternating windows.
    const cSat: number[] = []
    const rSat: number[] = []
    c.ackLat.length = 0
    let warmC = false
    let warmR = false
    const cpuSat = cpuOf()
    const sat = await profiled('replication-sustained', nodes, async () => await interleaved(satRuns,
      async () => { const x = await cpuSat.c.around(() => cSat.length, async () => await saturate(c, nextC, concurrency, satWindowMs, warmC ? 0 : satWindowMs / 3, cSat)); warmC = true; return tally(x, 'c') },
      async () => { const x = await cpuSat.r.around(() => rSat.length, async () => await saturate(r, nextR, concurrency, satWindowMs, warmR ? 0 : satWindowMs / 3, rSat)); warmR = true; return tally(x, 'r') }))
    ctx.log(`sustained CPU per write: cairn ${cpuSat.c.line()}; raw ${cpuSat.r.line()}`)
    const ackSat = summarize(c.ackLat)
    const sc = summarize(cSat)
    const sr = summarize(rSat)
    ctx.log(`sustained: cairn ${fmtNum(sat.a.median)}/s p99 ${fmtNum(sc.p99)} ms; raw ${fmtNum(sat.b.median)}/s p99 ${fmtNum(sr.p99)} ms`)

    const mem = c.keepers.map(k => k.memory())
    const shared = `agent, 2 keepers, 3 raw gossip processes and the harness share ${cpus().length} cores; keepers ${keepersMeshed ? 'are' : 'are not'} connected to each other (raw subscribers likewise)`
    const errNote = errs.c + errs.r > 0 ? `; failed/timed-out ops: cairn ${errs.c}, raw ${errs.r} (first: ${errs.first})` : ''
    const joined = (xs: number[]): string => xs.map(Math.round).join(' ')
    const rawName = (what: string): string => `raw gossipsub publish → delivered on 2 subscribers ${what}`
    return [
      ctx.result({
        name: `write → stored on 2 keepers p50, ${RATE} writes/s`,
        value: lc.p50, unit: 'ms',
        baseline: { name: rawName(`p50, ${RATE} msg/s`), value: lr.p50, unit: 'ms' },
        target: { op: '<=', value: 5 },
        ratioTarget: { op: '<=', value: 2 },
        notes: `open loop ${RATE}/s, ${latRuns} × ${latWindowMs / 1000} s windows each (ABBA), latency from the scheduled start to the later keeper's SSE event; the agent's 201 alone: p50 ${fmtNum(ack200.p50)} ms, p99 ${fmtNum(ack200.p99)} ms; ${shared}${errNote}`,
        details: { n: lc.n, mean: lc.mean, p90: lc.p90, max: lc.max, baselineN: lr.n, baselineP90: lr.p90, baselineMax: lr.max, ackP50: ack200.p50, ackP99: ack200.p99, errors: errs.c, baselineErrors: errs.r, cpuPerOp: cpu200.c.line(), baselineCpuPerOp: cpu200.r.line() }
      }),
      ctx.result({
        name: `write → stored on 2 keepers p99, ${RATE} writes/s`,
        value: lc.p99, unit: 'ms',
        baseline: { name: rawName(`p99, ${RATE} msg/s`), value: lr.p99, unit: 'ms' },
        target: { op: '<=', value: 25 },
        ratioTarget: { op: '<=', value: 3 },
        details: { n: lc.n, max: lc.max, baselineN: lr.n, baselineMax: lr.max }
      }),
      ctx.result({
        name: `sustained write + replicate to 2 keepers, ${concurrency} clients`,
        value: sat.a.median, unit: 'items/s',
        baseline: { name: `raw gossipsub max, ${concurrency} closed-loop publishers, delivered on both`, value: sat.b.median, unit: 'msg/s' },
        target: { op: '>=', value: 2000 },
        ratioTarget: { op: '>=', value: 0.8 },
        notes: `closed loop: each client writes its next item once the previous one is stored on both keepers; items stored on both per second, median of ${satRuns} × ${satWindowMs / 1000} s windows (ABBA): cairn ${joined(sat.a.samples)}, raw ${joined(sat.b.samples)}; the agent's 201 under this load: p50 ${fmtNum(ackSat.p50)} ms, p99 ${fmtNum(ackSat.p99)} ms; CPU per write (utime+stime of every process over the windows): cairn ${cpuSat.c.line()}, raw ${cpuSat.r.line()}; keeper RSS after: ${mem.map(m => m === undefined ? '?' : `${Math.round(m.rss / 2 ** 20)} MiB`).join(', ')}`,
        details: { concurrency, samples: joined(sat.a.samples), baselineSamples: joined(sat.b.samples), ackP50: ackSat.p50, ackP99: ackSat.p99, cpuPerOp: cpuSat.c.line(), baselineCpuPerOp: cpuSat.r.line() }
      }),
      ctx.result({
        name: `sustained write + replicate p99, ${concurrency} clients`,
        value: sc.p99, unit: 'ms',
        baseline: { name: `raw gossipsub p99 at max, ${concurrency} publishers`, value: sr.p99, unit: 'ms' },
        target: { op: '<=', value: 100 },
        notes: 'write start → stored on both keepers, all sustained windows pooled',
        details: { n: sc.n, p50: sc.p50, p90: sc.p90, max: sc.max, baselineN: sr.n, baselineP50: sr.p50, baselineMax: sr.max }
      })
    ]
  }
}
