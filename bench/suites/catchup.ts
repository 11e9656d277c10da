/**
 * catchup: a fresh keeper joins a group of ITEMS items (SPEC §8: ≥ 10,000 items/s).
 *
 * Set-up: an agent node (a copy of this run's big-group template, big-group.ts:
 * ITEMS real signed items of one taciturn group) and a freshly initialised
 * keeper, each a Daemon in its own process. Anti-entropy timers are pushed out
 * to a day (QUIET_TIMERS) so only the catch-up itself runs.
 *
 * value     the agent adds the keeper (POST /api/v1/groups/:gid/keepers with its
 *           address: descriptor delivered over a stream, then anti-entropy moves
 *           every record, each verified and stored by the keeper); time from that
 *           request to the keeper's ITEMS-th `stored` item event (counted in the
 *           keeper's process, reported over IPC, harness clock). items/s. The
 *           keeper's RSS is sampled every 100 ms meanwhile.
 * baseline  the same records sent by the same agent process to the same keeper
 *           process over ONE libp2p stream (bench-controls `blast`: read from the
 *           agent's store range by range, CBOR batches of ~1 MiB as sync sends
 *           them), decoded and counted but neither verified nor stored: the
 *           transport floor. A note adds raw SQLite inserts of as many envelopes
 *           of the same size, one transaction per ~1 MiB batch (the storage floor,
 *           in the harness process).
 * Runs alternate (catch-up, stream; stream, catch-up) with a new keeper each time.
 * A catch-up that stops progressing for 5 s (its sessions failed; with the
 * timers pushed out nothing would resume it) is nudged with POST …/sync on the
 * agent, and the stall is reported in the notes: the time includes it.
 */
import type { BenchResult, Suite } from '../lib/types.js'
import { median, msSince, now } from '../lib/timing.js'
import { initBenchNode, startNodeProcess, type NodeProcessHandle } from '../lib/node.js'
import { bigGroupNode } from '../lib/big-group.js'
import { QUIET_TIMERS, awaitCatchUp, holdsGroup, itemCount, sampleRss, watchStored, type CatchUp } from '../lib/cluster.js'
import { rawInserts } from '../lib/sqlite-baseline.js'
import { fmtNum } from '../lib/format.js'
import { profiled } from '../lib/profile.js'
import { describeMemory, sampleMemory, smaps, type MemorySample, type SelfMemory } from '../lib/memory.js'

const MiB = 2 ** 20

/** The breakdown at the highest sampled peak, as detail fields (MiB). */
function breakdown (peaks: Array<MemorySample | undefined>): Record<string, number> {
  const p = peaks.filter((x): x is MemorySample => x !== undefined).sort((a, b) => b.maps.rss - a.maps.rss)[0]
  if (p === undefined) return {}
  const r = (b: number): number => Math.round(b / MiB)
  return { peakFileMiB: r(p.maps.file), peakMainArenaMiB: r(p.maps.brk), peakThreadArenasMiB: r(p.maps.arenas), peakOtherAnonMiB: r(p.maps.otherAnon), peakHeapTotalMiB: r(p.self.heapTotal), peakWorkerHeapsMiB: r(p.self.workerHeaps.reduce((a, b) => a + b, 0)), peakArrayBuffersMiB: r(p.self.arrayBuffers), peakWalMiB: r(p.self.wal) }
}

export const catchupSuite: Suite = {
  name: 'catchup',
  description: 'a fresh keeper process catches up a group of 100,000 items (items/s, keeper RSS) vs the same bytes over one raw libp2p stream',
  async run (ctx) {
    const items = ctx.quick ? 2000 : 100_000
    const runs = ctx.quick ? 1 : 2
    const big = await bigGroupNode(ctx, items)
    if (big.buildMs > 0) ctx.log(`built the ${fmtNum(items)}-item group in ${fmtNum(big.buildMs / 1000)} s`)
    const agent = await startNodeProcess(ctx, big.dataDir, { flags: QUIET_TIMERS })
    await agent.ctl.call('protocols')
    // The agent builds its in-memory search index after its start (~35 s for 100k items here,
    // on one of the 2 cores the keeper needs): the catch-up is measured after it, not beside it.
    const tIndex = now()
    const indexed = await agent.ctl.call<boolean>('search-complete', { ms: 600_000 }, 610_000)
    ctx.log(`the agent's search index ${indexed ? 'was built' : 'was still building'} ${fmtNum(msSince(tIndex) / 1000)} s after the agent was ready`)
    const gid = big.gid

    const catchUps: Array<{ perSec: number, ms: number, totalMs: number, deliveredMs: number, rss: ReturnType<ReturnType<typeof sampleRss>['stop']>, startRss: number, syncBytes: number, sessions: number, failed: number, stalls: CatchUp['stalls'], idleMem?: MemorySample, peakMem?: MemorySample }> = []
    const blasts: Array<{ perSec: number, ms: number, bytes: number }> = []
    let last: NodeProcessHandle | undefined

    const catchUp = async (run: number): Promise<void> => {
      const kInit = await initBenchNode(ctx, { keeper: true })
      const k = await startNodeProcess(ctx, kInit.dataDir, { keeper: true, flags: QUIET_TIMERS })
      await k.ctl.call('protocols')
      const startRss = k.memory()?.rss ?? NaN
      const idleSelf = await k.ctl.call<SelfMemory>('stats')
      const idleMaps = smaps(k.proc.pid!)
      const idleMem = idleMaps !== undefined ? { self: idleSelf, maps: idleMaps } : undefined
      const all = await watchStored(k, gid, items, 'item')
      const desc = await watchStored(k, gid, 1, 'desc')
      const rss = sampleRss(k)
      const mem = sampleMemory(k)
      const t = now()
      const done = await profiled(`catchup-${run}`, { agent, keeper: k }, async () => {
        const r = await agent.api.call('POST', `/api/v1/groups/${gid}/keepers`, { peerId: k.peerId, multiaddr: k.multiaddr })
        if (r.status !== 201) throw new Error(`POST keepers → ${r.status}: ${r.text.slice(0, 200)}`)
        return await awaitCatchUp(agent, k, gid, items, all.done, ctx.quick ? 60_000 : 600_000)
      })
      if (done.stalls.length > 0) ctx.log(`catch-up ${run + 1} stalled ${done.stalls.length} time(s): ${done.stalls.map(x => `at ${x.held} items (nudged sync: ${x.errors.join(', ')})`).join('; ')}`)
      const m = rss.stop()
      const peakMem = (await mem.stop()).peak
      const d = await desc.done
      const totalMs = Number(done.at - t) / 1e6
      const deliveredMs = Number(d.at - t) / 1e6
      const ms = totalMs - deliveredMs
      const held = await itemCount(k, gid)
      if (held !== items) throw new Error(`the keeper holds ${held} items, not ${items}`)
      if (!await holdsGroup(k, gid)) throw new Error('the keeper does not list the group')
      const text = (await k.api.call('GET', '/metrics')).text
      const counter = (re: RegExp): number => text.split('\n').filter(l => re.test(l)).reduce((a, l) => a + Number(l.split(' ').pop()), 0)
      catchUps.push({ perSec: items / (ms / 1000), ms, totalMs, deliveredMs, rss: m, startRss, syncBytes: counter(/^cairn_sync_bytes_total/), sessions: counter(/^cairn_sync_rounds_total/), failed: counter(/^cairn_sync_rounds_total.*result="error"/), stalls: done.stalls, idleMem, peakMem })
      ctx.log(`catch-up ${run + 1}: descriptor delivered ${fmtNum(deliveredMs)} ms after POST …/keepers; then ${fmtNum(items)} items in ${fmtNum(ms / 1000)} s (${fmtNum(items / (ms / 1000))}/s); keeper RSS peak ${fmtNum(m.peak / MiB)} MiB`)
      if (idleMem !== undefined) ctx.log(`  keeper memory idle: ${describeMemory(idleMem)}`)
      if (peakMem !== undefined) ctx.log(`  keeper memory at its sampled peak: ${describeMemory(peakMem)}`)
      if (last !== undefined) await last.stop()
      last = k
    }

    const blast = async (): Promise<void> => {
      const k = last!
      const got = new Promise<{ at: bigint, records: number, bytes: number, error?: string }>(resolve => {
        const off = k.ctl.on(e => { if (e.event === 'blast') { off(); resolve({ at: now(), records: e.records, bytes: e.bytes, error: e.error }) } })
      })
      const t = now()
      await agent.ctl.call('blast', { peer: k.peerId, gid })
      const g = await got
      if (g.error !== undefined) throw new Error(`raw stream transfer failed: ${g.error}`)
      const ms = Number(g.at - t) / 1e6
      // Every record of the group: the items plus descriptors, bind and key records.
      if (g.records < items) throw new Error(`raw stream moved ${g.records} records, fewer than the ${items} items`)
      blasts.push({ perSec: g.records / (ms / 1000), ms, bytes: g.bytes })
      ctx.log(`raw stream: ${fmtNum(g.records)} records, ${fmtNum(g.bytes / MiB)} MiB in ${fmtNum(ms)} ms`)
    }

    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) { await catchUp(i); await blast() } else { await blast(); await catchUp(i) }
    }

    // Storage floor: raw SQLite inserts of as many envelopes, one transaction per ~1 MiB batch,
    // committed as the keeper commits a sync batch (synchronous = NORMAL, docs/SYNC.md).
    const raw = rawInserts(ctx, 'NORMAL')
    const perTx = Math.floor(MiB / raw.rowBytes)
    const t = now()
    const sqlitePerSec = raw.batched(items, perTx)
    ctx.log(`raw SQLite: ${fmtNum(items)} rows in ${fmtNum(msSince(t))} ms`)

    const v = median(catchUps.map(c => c.perSec))
    const b = median(blasts.map(x => x.perSec))
    const peak = Math.max(...catchUps.map(c => c.rss.peak))
    const startRssMiB = median(catchUps.map(c => c.startRss)) / MiB
    const hwm = Math.max(...catchUps.map(c => c.rss.hwm))
    const out: BenchResult[] = [
      ctx.result({
        name: `new keeper catches up ${fmtNum(items)} items`,
        value: v, unit: 'items/s',
        baseline: { name: 'same records, same processes, one raw libp2p stream (no verify, no store)', value: b, unit: 'records/s' },
        target: { op: '>=', value: 10_000 },
        notes: `from the descriptor's arrival on the keeper (its first stored descriptor) to its ${fmtNum(items)}-th stored item, ${runs} fresh keeper(s): ${catchUps.map(c => `${fmtNum(c.ms / 1000)} s`).join(', ')}; end to end from POST …/keepers: ${catchUps.map(c => `${fmtNum(c.totalMs / 1000)} s, of which ${fmtNum(c.deliveredMs)} ms until the descriptor arrived`).join('; ')}; the keeper's sync traffic: ${catchUps.map(c => `${fmtNum(c.syncBytes / MiB)} MiB in ${c.sessions} session(s), ${c.failed} ended in error`).join(', ')}${catchUps.some(c => c.stalls.length > 0) ? `; STALLED: ${catchUps.map((c, i) => c.stalls.length === 0 ? '' : `run ${i + 1} stopped progressing at ${c.stalls.map(x => x.held).join(', ')} items until the harness asked the agent for a sync (${c.stalls.length}×; with the default timers the next attempt would come at the group's anti-entropy interval)`).filter(x => x !== '').join('; ')}` : ''} for ${fmtNum((blasts[0]?.bytes ?? 0) / MiB)} MiB of records; raw stream ${blasts.map(x => `${fmtNum(x.ms)} ms`).join(', ')}; storage floor: raw SQLite inserts of ${fmtNum(items)} envelopes, ${perTx} per tx: ${fmtNum(sqlitePerSec)} rows/s`,
        details: { items, runs, samples: catchUps.map(c => Math.round(c.perSec)).join(' '), baselineSamples: blasts.map(x => Math.round(x.perSec)).join(' '), deliveredMs: catchUps.map(c => Math.round(c.deliveredMs)).join(' '), endToEndMs: catchUps.map(c => Math.round(c.totalMs)).join(' '), keeperSyncBytes: catchUps.map(c => c.syncBytes).join(' '), keeperSyncSessions: catchUps.map(c => c.sessions).join(' '), keeperSyncSessionsFailed: catchUps.map(c => c.failed).join(' '), harnessNudges: catchUps.map(c => c.stalls.length).join(' '), sqliteBatchedRowsPerSec: Math.round(sqlitePerSec), streamBytes: blasts[0]?.bytes ?? 0, groupBuildMs: Math.round(big.buildMs) }
      }),
      ctx.result({
        name: `new keeper catches up ${fmtNum(items)} items, beside the storage floor`,
        value: v, unit: 'items/s',
        baseline: { name: `raw SQLite inserts of ${fmtNum(items)} envelopes of the same size, ${perTx} per tx, synchronous = NORMAL (harness process)`, value: sqlitePerSec, unit: 'rows/s' },
        // Issue 14: ≥ 0.5× the same-run floor.
        target: { op: '>=', value: 0.5 * sqlitePerSec },
        notes: 'target: half the same-run raw SQLite insert rate; the floor is one table with a text primary key, no verification, no gates, no other index'
      }),
      ctx.result({
        name: `keeper RSS peak during catch-up of ${fmtNum(items)} items`,
        value: peak / MiB, unit: 'MiB',
        baseline: { name: 'the same keeper process before the catch-up', value: startRssMiB, unit: 'MiB' },
        // Issue 14: ≤ 1.5× the same keeper idle.
        target: { op: '<=', value: 1.5 * startRssMiB },
        notes: `target: 1.5× the keeper's RSS before it; sampled every 100 ms; VmHWM (peak since process start) ${fmtNum(hwm / MiB)} MiB; after: ${catchUps.map(c => `${fmtNum(c.rss.last / MiB)} MiB`).join(', ')}; ` +
          `where it is (each run, sampled every 1 s; bench/lib/memory.ts): ${catchUps.map((c, i) => `run ${i + 1} idle: ${c.idleMem !== undefined ? describeMemory(c.idleMem) : '—'}; at the peak: ${c.peakMem !== undefined ? describeMemory(c.peakMem) : '—'}`).join('; ')}`,
        details: { peakMiB: peak / MiB, hwmMiB: hwm / MiB, ...breakdown(catchUps.map(c => c.peakMem)) }
      })
    ]
    return out
  }
}

