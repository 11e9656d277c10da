/**
 * sync: anti-entropy of a group of ITEMS items whose copies differ by DIFF
 * (SPEC §8: ≤ 3 KB, ≤ 3 round trips, ≤ 50 ms; the naive ID list is 3.2 MB).
 *
 * Set-up: an agent (a copy of this run's big-group template: ITEMS real signed
 * items of one taciturn group) and a keeper, each a Daemon in its own process;
 * the keeper is added to the group and catches up all of it; anti-entropy
 * timers are pushed out to a day (QUIET_TIMERS) so only the measured sessions run.
 * Each run then writes DIFF new items on the agent (taciturn: never pushed), so
 * the two copies hold the same ITEMS(+earlier runs) records except DIFF, and
 * calls POST /api/v1/groups/:gid/sync on the agent — one session with the keeper.
 *
 * values    from that call's report: reconciliation bytes (`reconcileBytes`: the
 *           range messages both ways, not the records), total bytes, round
 *           trips; time = the HTTP call, harness clock (median of RUNS warm runs;
 *           the keeper is checked to hold the DIFF new items afterwards). The
 *           first run is cold: both processes were told to drop their sync index
 *           of the group first (bench-controls `drop-sync-index`), so both rebuild
 *           it from their store during the session.
 * baseline  the naive exchange between the same two processes over a fresh
 *           libp2p stream (bench-controls `idlist`): the agent sends the hash of
 *           every record (32 B each), the keeper diffs against its own and answers
 *           with what each side lacks; its bytes and its time (agent's clock),
 *           in runs alternating with the syncs.
 */
import { createCipheriv, randomBytes } from 'node:crypto'
import type { BenchResult, Suite } from '../lib/types.js'
import { median, msSince, now } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { initBenchNode, startNodeProcess } from '../lib/node.js'
import { bigGroupNode } from '../lib/big-group.js'
import { QUIET_TIMERS, awaitCatchUp, itemCount, watchStored } from '../lib/cluster.js'
import { fmtNum } from '../lib/format.js'
import { profiled } from '../lib/profile.js'
import { MemorySet } from '../../src/replication/memory-set.js'
import { reconcileSets } from '../../src/replication/memory-session.js'

const DIFF = 10

interface SyncRun { ms: number, reconcileBytes: number, bytes: number, roundTrips: number, sent: number, received: number }
/** n pseudo-random 32-byte hashes (an AES-CTR keystream: fast, and as uniform as record hashes). */
function randomHashes (n: number): Uint8Array[] {
  const bytes = createCipheriv('aes-256-ctr', randomBytes(32), Buffer.alloc(16, 0)).update(Buffer.alloc(n * 32))
  return Array.from({ length: n }, (_, i) => new Uint8Array(bytes.buffer, bytes.byteOffset + i * 32, 32))
}

/**
 * The 1M-item case without processes: the session's own reconcile code
 * between two in-memory sets (memory-session.ts: every range through the wire
 * form, round trips counted as the session counts them); time = the
 * computation of both sides on one thread, no network, no store. `iblt`:
 * open as /cairn/sync/1.1.0 does (IBLT + root split), else as 1.0.0.
 */
function inMemoryCase (n: number, runs: number, iblt = true): { bytes: number[], roundTrips: number[], ms: number[], layout: string[] } {
  const out = { bytes: [] as number[], roundTrips: [] as number[], ms: [] as number[], layout: [] as string[] }
  const common = randomHashes(n)
  for (let r = 0; r < runs; r++) {
    const extra = randomHashes(DIFF)
    const split = r % 2 === 1 // alternate: 10 on one side, 5 + 5
    const a = new MemorySet([...common, ...(split ? extra.slice(0, DIFF / 2) : extra)])
    const b = new MemorySet(split ? [...common, ...extra.slice(DIFF / 2)] : common)
    const t = now()
    const o = reconcileSets(a, b, { iblt })
    out.ms.push(msSince(t))
    if (o.a.size !== n + DIFF || o.b.size !== n + DIFF || o.recordsSent !== DIFF) throw new Error(`in-memory reconciliation of ${n} items did not converge`)
    out.bytes.push(o.rangeBytes); out.roundTrips.push(o.roundTrips); out.layout.push(split ? '5+5' : '10+0')
  }
  return out
}

interface IdRun { ms: number, harnessMs: number, bytes: number, sent: number, received: number, theyLack: number }

export const syncSuite: Suite = {
  name: 'sync',
  description: `anti-entropy of 100,000 items, ${DIFF} differ: bytes, round trips, time (cold and warm) vs the full ID list over a libp2p stream`,
  async run (ctx) {
    const items = ctx.quick ? 2000 : 100_000
    const runs = ctx.quick ? 2 : 6
    const big = await bigGroupNode(ctx, items)
    if (big.buildMs > 0) ctx.log(`built the ${fmtNum(items)}-item group in ${fmtNum(big.buildMs / 1000)} s`)
    const gid = big.gid
    const agent = await startNodeProcess(ctx, big.dataDir, { flags: QUIET_TIMERS })
    const kInit = await initBenchNode(ctx, { keeper: true })
    const keeper = await startNodeProcess(ctx, kInit.dataDir, { keeper: true, flags: QUIET_TIMERS })
    await Promise.all([agent.ctl.call('protocols'), keeper.ctl.call('protocols')])

    // The keeper catches up the whole group first.
    const all = await watchStored(keeper, gid, items)
    const t0 = now()
    await agent.api.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: keeper.peerId, multiaddr: keeper.multiaddr })
    const cu = await awaitCatchUp(agent, keeper, gid, items, all.done, 600_000)
    ctx.log(`keeper caught up ${fmtNum(items)} items in ${fmtNum(msSince(t0) / 1000)} s (descriptor delivery included${cu.nudges > 0 ? `; ${cu.nudges} stall(s) nudged with POST …/sync` : ''})`)
    // The agent builds its in-memory search index after its start (~30 s for 100k items, in
    // slices on the event loop every session's await also waits on): the sessions are measured
    // after it, not beside it (docs/PERFORMANCE.md "Issue 14, push bundles and the search
    // index's second copy", change 4, which also gives the figures beside it).
    const tIndex = now()
    const indexed = await agent.ctl.call<boolean>('search-complete', { ms: 600_000 }, 610_000)
    ctx.log(`the agent's search index ${indexed ? 'was built' : 'was still building'} ${fmtNum(msSince(tIndex) / 1000)} s after the catch-up`)

    const cs = contents(64)
    let held = items
    let seq = 0
    /** `index`: what both sides do to their sync index after the writes, before the session. */
    const syncOnce = async (run: number, index?: 'drop-sync-index' | 'unload-sync-index'): Promise<SyncRun> => {
      for (let i = 0; i < DIFF; i++) await agent.api.ok('POST', `/api/v1/groups/${gid}/items`, itemInput(cs[seq++ & 63]!))
      if (index !== undefined) {
        const r = await Promise.all([agent.ctl.call(index, { gid }), keeper.ctl.call(index, { gid })])
        if (index === 'unload-sync-index' && !r.every(x => x === 'saved')) throw new Error(`the sync indexes were not saved: ${JSON.stringify(r)}`)
      }
      const arrived = await watchStored(keeper, gid, DIFF)
      const t = now()
      const r = await profiled(`sync-${run}`, { agent, keeper }, async () => await agent.api.call('POST', `/api/v1/groups/${gid}/sync`))
      const ms = msSince(t)
      if (r.status !== 200) throw new Error(`POST …/sync → ${r.status}: ${r.text.slice(0, 300)}`)
      const p = (r.body as { peers: Array<SyncRun & { peerId: string, error?: string }> }).peers.find(x => x.peerId === keeper.peerId)
      if (p === undefined || p.error !== undefined) throw new Error(`the sync with the keeper failed: ${JSON.stringify(r.body).slice(0, 300)}`)
      await Promise.race([arrived.done, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the keeper did not store the ${DIFF} new items after the sync`)), 10_000).unref())])
      held += DIFF
      return { ms, reconcileBytes: p.reconcileBytes, bytes: p.bytes, roundTrips: p.roundTrips, sent: p.sent, received: p.received }
    }
    const idOnce = async (): Promise<IdRun> => {
      const t = now()
      const r = await agent.ctl.call<{ sent: number, received: number, ms: number, ids: number, theyLack: number }>('idlist', { peer: keeper.peerId, gid })
      return { ms: r.ms, harnessMs: msSince(t), bytes: r.sent + r.received, sent: r.sent, received: r.received, theyLack: r.theyLack }
    }

    // Cold: both sides forget their sync index of the group (memory and saved copy): rebuilt in the session.
    const cold = await syncOnce(0, 'drop-sync-index')
    ctx.log(`cold sync (indexes rebuilt): ${fmtNum(cold.ms)} ms, ${cold.reconcileBytes} B reconciliation, ${cold.roundTrips} round trips`)
    // As after a restart: both sides save their index and free it; the session loads and checks the saved copies.
    const restarted: SyncRun[] = []
    for (let i = 0; i < (ctx.quick ? 1 : 3); i++) restarted.push(await syncOnce(100 + i, 'unload-sync-index'))
    ctx.log(`first syncs after a restart (saved indexes loaded): ${restarted.map(r => fmtNum(r.ms)).join(', ')} ms`)
    const warm: SyncRun[] = []
    const ids: IdRun[] = []
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) { ids.push(await idOnce()); warm.push(await syncOnce(i + 1)) } else { warm.push(await syncOnce(i + 1)); ids.push(await idOnce()) }
    }
    const count = await itemCount(keeper, gid)
    if (count !== held) throw new Error(`the keeper holds ${count} items, expected ${held}`)
    for (const x of ids) if (x.theyLack !== 0) throw new Error(`the ID list found ${x.theyLack} records missing on the keeper after the syncs`)

    const m = (f: (r: SyncRun) => number): number => median(warm.map(f))
    const idBytes = median(ids.map(x => x.bytes))
    const idMs = median(ids.map(x => x.ms))
    const list = (xs: number[]): string => xs.map(x => fmtNum(x)).join(', ')
    const setNote = `${fmtNum(items)}-item group (+${DIFF} per run), ${DIFF} new on the agent each run, 1 keeper; ${runs} warm runs`
    const out: BenchResult[] = [
      ctx.result({
        name: `anti-entropy reconciliation bytes, ${fmtNum(items)} items, ${DIFF} differ`,
        value: m(r => r.reconcileBytes), unit: 'B',
        baseline: { name: 'full ID list exchange (32-byte record hashes) over a libp2p stream', value: idBytes, unit: 'B' },
        target: { op: '<=', value: 3000 },
        notes: `${setNote}: ${list(warm.map(r => r.reconcileBytes))} B; cold run ${fmtNum(cold.reconcileBytes)} B; ID list: ${fmtNum(ids[0]?.sent ?? 0)} B out, ${fmtNum(ids[0]?.received ?? 0)} B back`,
        details: { items, diff: DIFF, runs, samples: warm.map(r => r.reconcileBytes).join(' '), cold: cold.reconcileBytes }
      }),
      ctx.result({
        name: `anti-entropy total bytes (with the ${DIFF} records), ${fmtNum(items)} items`,
        value: m(r => r.bytes), unit: 'B',
        baseline: { name: 'full ID list exchange (the records not included)', value: idBytes, unit: 'B' },
        notes: `records moved per run: ${list(warm.map(r => r.sent))} sent by the agent`,
        details: { samples: warm.map(r => r.bytes).join(' '), cold: cold.bytes }
      }),
      ctx.result({
        name: `anti-entropy round trips, ${fmtNum(items)} items, ${DIFF} differ`,
        value: m(r => r.roundTrips), unit: 'round trips',
        baseline: { name: 'full ID list exchange', value: 1, unit: 'round trips' },
        target: { op: '<=', value: 3 },
        details: { samples: warm.map(r => r.roundTrips).join(' '), cold: cold.roundTrips }
      }),
      ctx.result({
        name: `anti-entropy time, ${fmtNum(items)} items, ${DIFF} differ (warm)`,
        value: m(r => r.ms), unit: 'ms',
        baseline: { name: 'full ID list exchange + diff, same processes', value: idMs, unit: 'ms' },
        target: { op: '<=', value: 50 },
        notes: `POST /api/v1/groups/:gid/sync on the agent, harness clock: ${list(warm.map(r => r.ms))} ms; ID list (agent's clock): ${list(ids.map(x => x.ms))} ms`,
        details: { samples: warm.map(r => Math.round(r.ms * 10) / 10).join(' '), baselineSamples: ids.map(x => Math.round(x.ms * 10) / 10).join(' ') }
      }),
      ctx.result({
        name: `anti-entropy time, ${fmtNum(items)} items, ${DIFF} differ (cold: sync indexes rebuilt)`,
        value: cold.ms, unit: 'ms',
        baseline: { name: 'full ID list exchange + diff, same processes', value: idMs, unit: 'ms' },
        target: { op: '<=', value: 50 },
        notes: `first run after both processes dropped their sync index of the group: each rebuilds it from its store (${fmtNum(items)} hashes) inside the session; ${cold.reconcileBytes} B, ${cold.roundTrips} round trips`,
        details: { reconcileBytes: cold.reconcileBytes, roundTrips: cold.roundTrips }
      }),
      ctx.result({
        name: `anti-entropy time, ${fmtNum(items)} items, ${DIFF} differ (first session after a restart: saved indexes loaded)`,
        value: median(restarted.map(r => r.ms)), unit: 'ms',
        baseline: { name: 'warm session, same processes (median)', value: m(r => r.ms), unit: 'ms' },
        target: { op: '<=', value: 50 },
        notes: `each run: ${DIFF} writes on the agent, then both processes save their index of the group to SQLite and free it (as a stop does), and the session loads each back with its checks (checksum, count, spot sums): ${list(restarted.map(r => r.ms))} ms; ${list(restarted.map(r => r.reconcileBytes))} B, ${list(restarted.map(r => r.roundTrips))} round trips`,
        details: { samples: restarted.map(r => Math.round(r.ms * 10) / 10).join(' '), reconcileBytes: restarted.map(r => r.reconcileBytes).join(' ') }
      })
    ]
    // 1M items, 10 differ: the same reconcile code between in-memory sets (a
    // process pair holding 1M items each takes ~30 min to set up here).
    const big1 = ctx.quick ? 20_000 : 1_000_000
    const mem = inMemoryCase(big1, ctx.quick ? 2 : 4)
    const old = inMemoryCase(big1, 2, false)
    const mid = inMemoryCase(items, 2)
    ctx.log(`in-memory ${fmtNum(big1)}/${DIFF} (1.1.0): ${list(mem.bytes)} B, ${list(mem.roundTrips)} round trips, ${list(mem.ms)} ms (${mem.layout.join(', ')}); 1.0.0 opening: ${list(old.bytes)} B, ${list(old.roundTrips)} round trips`)
    const memNote = `the session's reconcile code (/cairn/sync/1.1.0: IBLT opening) between two in-memory sets of ${fmtNum(big1)} common hashes + ${DIFF} (runs alternate 10 on one side / 5 + 5: ${mem.layout.join(', ')}), every range through the wire form; the 1.0.0 opening (range trie only) in the same run: ${list(old.bytes)} B, ${list(old.roundTrips)} round trips`
    /** Bytes and round trips of an in-memory case, each beside the full ID list. */
    const rows = (n: number, c: ReturnType<typeof inMemoryCase>, note: string, tripsNote?: string): BenchResult[] => [
      ctx.result({
        name: `anti-entropy reconciliation bytes, ${fmtNum(n)} items, ${DIFF} differ (in memory, 1.1.0)`,
        value: median(c.bytes), unit: 'B',
        baseline: { name: 'full ID list (32-byte record hashes)', value: n * 32, unit: 'B' },
        target: { op: '<=', value: 3000 },
        notes: `${note}: ${list(c.bytes)} B`,
        details: { samples: c.bytes.join(' ') }
      }),
      ctx.result({
        name: `anti-entropy round trips, ${fmtNum(n)} items, ${DIFF} differ (in memory, 1.1.0)`,
        value: median(c.roundTrips), unit: 'round trips',
        baseline: { name: 'full ID list exchange', value: 1, unit: 'round trips' },
        target: { op: '<=', value: 3 },
        ...(tripsNote !== undefined ? { notes: tripsNote } : {}),
        details: { samples: c.roundTrips.join(' ') }
      })
    ]
    out.push(
      ...rows(items, mid, `as the ${fmtNum(big1)} rows below, at ${fmtNum(items)}`),
      ...rows(big1, mem, memNote, `1.0.0 opening in the same run: ${list(old.roundTrips)}`),
      ctx.result({
        name: `anti-entropy compute time, ${fmtNum(big1)} items, ${DIFF} differ (in memory, both sides, no network)`,
        value: median(mem.ms), unit: 'ms',
        baseline: { name: `the same at ${fmtNum(items)} items, same run`, value: median(mid.ms), unit: 'ms' },
        target: { op: '<=', value: 100 },
        notes: `${list(mem.ms)} ms; the process-pair time adds a network round trip (~1 ms on loopback) per round trip and the stores' range reads`,
        details: { samples: mem.ms.map(x => Math.round(x * 10) / 10).join(' ') }
      })
    )
    return out
  }
}
