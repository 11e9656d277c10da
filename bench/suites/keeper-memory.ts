/**
 * keeper-memory: RSS of a keeper holding ITEMS items (SPEC §8: 1M items,
 * RSS ≤ 200 MB), idle and while it serves an anti-entropy session of that group.
 * Runs only when named (`npm run bench -- keeper-memory`): building the data
 * takes minutes and ~3 GB of disk.
 *
 * Set-up, in this process: an agent node (real `cairn init`) creates a taciturn
 * group with two keepers K1 and K2 (initialised keeper data dirs), and ITEMS
 * items are sealed and signed with the real record code (src/records sealItem,
 * the agent's entity key and group key) and handed to each keeper's own services
 * (buildServices in keeper mode: Acceptor gates, LWW, store), BATCH per
 * transaction — what a catch-up would store, without the network. K2 gets DIFF
 * more than K1. If the build passes BUILD_BUDGET_MS it stops there, and the rows
 * say how many items the keepers hold.
 *
 * Then K1, K2 and an empty keeper K0 run as processes (as `cairn start --keeper`,
 * anti-entropy timers pushed out). K2 dials K1 (both sync on connect) and asks
 * for a sync of the group (POST …/sync): K1 serves it and stores the DIFF items it
 * lacks. K1's RSS (/proc VmRSS) is sampled every 50 ms from before the dial to 3 s
 * after the sync.
 *
 * values    K1's RSS after serving the sync (settled), and its peak while serving
 * baseline  the empty keeper K0's RSS, same run (what the process costs holding nothing)
 */
import { loadConfig } from '../../src/config/load.js'
import { loadNodeKey } from '../../src/node/node-key.js'
import { dataPaths } from '../../src/node/paths.js'
import { buildServices, type Services } from '../../src/node/services.js'
import { silentLogger } from '../../src/util/logger.js'
import { sealItem } from '../../src/records/item.js'
import { decodeRecord, type VerifiedRecord } from '../../src/records/record.js'
import type { Suite, SuiteContext } from '../lib/types.js'
import { msSince, now, sleep } from '../lib/timing.js'
import { contents } from '../lib/items.js'
import { initBenchNode, openLocalServices, startNodeProcess, type NodeProcessHandle } from '../lib/node.js'
import { QUIET_TIMERS, itemCount, sampleRss, until } from '../lib/cluster.js'
import { fmtNum } from '../lib/format.js'
import { profiled } from '../lib/profile.js'

const BATCH = 10_000
const DIFF = 10
const MiB = 2 ** 20

/** A keeper's services in this process; close() is idempotent (the suite closes them before starting the processes). */
function keeperServices (ctx: SuiteContext, dataDir: string): Services & { closeOnce: () => Promise<void> } {
  const s = buildServices(loadConfig(dataDir, { env: {} }), loadNodeKey(dataPaths(dataDir).nodeKey), silentLogger())
  let closing: Promise<void> | undefined
  const closeOnce = (): Promise<void> => (closing ??= s.close())
  ctx.defer(closeOnce)
  return Object.assign(s, { closeOnce })
}

export const keeperMemorySuite: Suite = {
  name: 'keeper-memory',
  explicit: true,
  description: 'RSS of a keeper process holding 1,000,000 items, idle and serving a sync, vs an empty keeper (minutes, ~3 GB of disk)',
  async run (ctx) {
    const items = ctx.quick ? 5000 : Number(process.env.CAIRN_BENCH_KEEPER_ITEMS ?? 1_000_000)
    const budgetMs = ctx.quick ? 60_000 : 15 * 60_000

    // Agent (in process) with the group; two keeper data dirs.
    const [k1Init, k2Init, k0Init] = await Promise.all([initBenchNode(ctx, { keeper: true }), initBenchNode(ctx, { keeper: true }), initBenchNode(ctx, { keeper: true })])
    const { s: agent } = await openLocalServices(ctx)
    agent.search.close()
    const g = agent.groups.create({ name: 'bench-keeper-memory', culture: 'taciturn' })
    agent.groups.addKeeper(g.id, k1Init!.peerId)
    agent.groups.addKeeper(g.id, k2Init!.peerId)
    const desc = agent.store.allOfKind(g.id, 'desc').map(r => r.bytes)
    const signer = agent.vault!.entityKey()
    const key = agent.groups.keyFor(g.id, 1)
    const k1 = keeperServices(ctx, k1Init!.dataDir)
    const k2 = keeperServices(ctx, k2Init!.dataDir)
    for (const k of [k1, k2]) {
      const res = k.acceptor.ingest(desc.map(b => decodeRecord(new Uint8Array(b))), 'delivery')
      if (!k.registry.has(g.id)) throw new Error(`a keeper did not adopt the group: ${JSON.stringify(res)}`)
    }
    const cs = contents(512)
    const t = now()
    let built = 0
    let note = ''
    const total = items + DIFF
    while (built < total) {
      const n = Math.min(BATCH, total - built)
      const recs: VerifiedRecord[] = []
      for (let i = 0; i < n; i++) {
        const c = agent.clock.tick()
        recs.push(sealItem({ signer, groupId: g.id as never, clock: c, keyVersion: 1, key, plain: { type: 'note', content: cs[(built + i) & 511]!, meta: null, createdAt: c } }))
      }
      const toK1 = built + n <= items ? recs : recs.slice(0, Math.max(0, items - built))
      for (const [k, batch] of [[k1, toK1], [k2, recs]] as const) {
        if (batch.length === 0) continue
        const res = k.acceptor.ingest(batch, 'sync')
        const bad = res.find(r => r.status !== 'stored')
        if (bad !== undefined) throw new Error(`a keeper refused a built record: ${JSON.stringify(bad)}`)
      }
      built += n
      if (built % 100_000 < BATCH) ctx.log(`keeper-memory: ${fmtNum(built)} / ${fmtNum(total)} records built (${fmtNum(built / (msSince(t) / 1000))}/s)`)
      if (built < items && msSince(t) > budgetMs) { note = `build stopped by its ${budgetMs / 60_000}-min budget at ${built.toLocaleString('en-US')} of ${items.toLocaleString('en-US')} items; `; break }
    }
    const held = Math.min(built, items)
    const buildMs = msSince(t)
    ctx.log(`built ${held.toLocaleString('en-US')} items on K1 (+${Math.max(0, built - items)} on K2) in ${fmtNum(buildMs / 1000)} s`)
    await k1.closeOnce()
    await k2.closeOnce()

    // The processes.
    const [K1, K2, K0] = await Promise.all([k1Init!, k2Init!, k0Init!].map(async k => await startNodeProcess(ctx, k.dataDir, { keeper: true, flags: QUIET_TIMERS }))) as [NodeProcessHandle, NodeProcessHandle, NodeProcessHandle]
    await sleep(3000)
    const idle = K1.memory()!.rss
    const empty = K0.memory()!.rss
    const s1 = sampleRss(K1, 50)
    const s2 = sampleRss(K2, 50)
    const ts = now()
    const report = await profiled('keeper-memory', { K1, K2 }, async () => {
      await K2.api.ok('POST', '/api/v1/peers', { multiaddr: K1.multiaddr })
      const r = await K2.api.call('POST', `/api/v1/groups/${g.id}/sync`)
      if (r.status !== 200) throw new Error(`POST …/sync on K2 → ${r.status}: ${r.text.slice(0, 300)}`)
      return (r.body as { peers: Array<{ peerId: string, bytes: number, roundTrips: number, sent: number, error?: string }> }).peers.find(p => p.peerId === K1.peerId)
    })
    const syncMs = msSince(ts)
    const want = built > items ? held + Math.min(DIFF, built - items) : held
    await until(`K1 to hold ${want} items`, async () => await itemCount(K1, g.id) >= want, 120_000, 500)
    await sleep(3000)
    const m1 = s1.stop()
    const m2 = s2.stop()
    const emptyAfter = K0.memory()!.rss
    ctx.log(`K1 RSS: idle ${fmtNum(idle / MiB)} MiB, peak ${fmtNum(m1.peak / MiB)} MiB, after ${fmtNum(m1.last / MiB)} MiB; K2 peak ${fmtNum(m2.peak / MiB)} MiB; empty keeper ${fmtNum(empty / MiB)} MiB; sync ${fmtNum(syncMs)} ms`)
    const base = { name: 'an empty keeper process, same run', value: (empty + emptyAfter) / 2 / MiB, unit: 'MiB' }
    const common = `${note}K1 holds ${held.toLocaleString('en-US')} items (built in ${fmtNum(buildMs / 1000)} s through each keeper's Acceptor, ${BATCH.toLocaleString('en-US')} per tx); idle after start ${fmtNum(idle / MiB)} MiB`
    return [
      ctx.result({
        name: `keeper RSS holding ${held.toLocaleString('en-US')} items, after serving a sync`,
        value: m1.last / MiB, unit: 'MiB',
        baseline: base,
        target: { op: '<=', value: 200 * 1e6 / MiB },
        notes: `${common}; K2 dialled K1 (both sync on connect) and ran POST …/sync (${fmtNum(syncMs)} ms${report?.error !== undefined ? `, error: ${report.error}` : ''}); RSS 3 s after the sync; target 200 MB = ${fmtNum(200 * 1e6 / MiB)} MiB`,
        details: { items: held, idleMiB: idle / MiB, afterMiB: m1.last / MiB, hwmMiB: m1.hwm / MiB, syncMs, buildMs: Math.round(buildMs) }
      }),
      ctx.result({
        name: `keeper RSS peak while serving a sync of ${held.toLocaleString('en-US')} items`,
        value: m1.peak / MiB, unit: 'MiB',
        baseline: base,
        target: { op: '<=', value: 200 * 1e6 / MiB },
        notes: `sampled every 50 ms (${m1.samples} samples); VmHWM ${fmtNum(m1.hwm / MiB)} MiB; the initiating keeper K2 (same items + ${DIFF}) peaked at ${fmtNum(m2.peak / MiB)} MiB`,
        details: { peakMiB: m1.peak / MiB, k2PeakMiB: m2.peak / MiB, k2HwmMiB: m2.hwm / MiB }
      })
    ]
  }
}

