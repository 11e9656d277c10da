/**
 * rotation: re-encryption throughput after a key rotation (SPEC §8: ≥ 20,000
 * items/s), on a group of ITEMS items written through ItemService.
 *
 * Rows:
 *  1. re-encrypt on rotation (the real path): a node as a user has it,
 *     vault unlocked and the in-memory search index holding every item;
 *     GroupService.rotate (new descriptor + key version + key envelope) and
 *     the background `reencrypt` job run to `done`. items / time from the
 *     rotate() call to the job's end. A rotation that would run past
 *     BUDGET_MS is stopped there and its rate so far reported (noted).
 *  2. the same with the search index closed: isolates the store path and the
 *     job from the index (a diagnostic, not a configuration users run).
 *  2b. the same again, with the job's work per record on the main thread: the
 *     TypeScript sources, whose worker thread cannot start under tsx (as every
 *     rotation ran before groups/reencrypt-thread.ts). Rows 1 and 2 run this
 *     run's compiled sources (bench/lib/build.ts compiledModule), as a node does.
 *  3. item writes/s on the node of row 1, which holds ITEMS items: write cost
 *     as a function of what the node holds.
 *
 *  4. the crypto floor after batching (issue 14): reencryptItems, 1,000 records
 *     per signature as the job signs them, on the same records in a tight loop,
 *     no store: what the job could reach if storing cost nothing.
 *
 *  baseline (1, 2, 4)  reencryptItem (decrypt + encrypt + Ed25519 sign + encode:
 *            what each item needed before batch signing) on the same records in a
 *            tight loop, no store, in 1 s windows alternating with the rotations:
 *            ratio = share of that floor the job achieves.
 *  baseline (3)     raw better-sqlite3 inserts, one transaction per row,
 *            interleaved with the writes.
 */
import type { GroupId } from '../../src/crypto/ids.js'
import { randomBytes } from 'node:crypto'
import { reencryptItem, reencryptItems } from '../../src/records/item.js'
import { fromStore } from '../../src/records/record.js'
import type { Services } from '../../src/node/services.js'
import type { BenchResult, Suite, SuiteContext } from '../lib/types.js'
import { interleaved, measureRate, median, msSince, now, sleep, summarize } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { openLocalServices } from '../lib/node.js'
import { PER_ROW_NAME, rawInserts } from '../lib/sqlite-baseline.js'
import { fmtNum } from '../lib/format.js'

const TARGET = { op: '>=' as const, value: 20_000 }

interface Setup { s: Services, gid: GroupId, items: number, writeMs: number, note: string }

/** A node with one group of `items` items, written through ItemService 1,000 per transaction. */
async function setup (ctx: SuiteContext, items: number, withIndex: boolean, budgetMs: number, compiled = true): Promise<Setup> {
  const { s } = await openLocalServices(ctx, undefined, { compiled })
  if (!withIndex) s.search.close()
  const g = s.groups.create({ name: 'bench-rotation' })
  const cs = contents(256)
  const t = now()
  let done = 0
  let note = ''
  while (done < items) {
    const k = Math.min(1000, items - done)
    s.store.tx(() => { for (let i = 0; i < k; i++) s.items.create(g.id, itemInput(cs[(done + i) & 255]!)) })
    done += k
    if (done < items && msSince(t) > budgetMs) {
      note = `setup stopped at ${fmtNum(done)} of ${fmtNum(items)} items after ${fmtNum(msSince(t) / 1000)} s (writes slow down as the node fills)`
      break
    }
  }
  const writeMs = msSince(t)
  ctx.log(`${withIndex ? 'index on' : 'index closed'}${compiled ? '' : ', TypeScript sources'}: wrote ${done} items in ${Math.round(writeMs)} ms`)
  if (withIndex) {
    // The index takes the written items in slices after the writes (search/search-index.ts
    // drain): the rotations must not run beside that (it was ~17% of the first ones' time).
    const d = now()
    await s.search.drain()
    ctx.log(`search index took the ${done} items in ${Math.round(msSince(d))} ms more`)
  }
  return { s, gid: g.id, items: done, writeMs, note }
}

/** One rotation: rotate() to job done, or stopped at `budgetMs`. */
async function rotateOnce (ctx: SuiteContext, x: Setup, budgetMs: number): Promise<{ perSec: number, done: number, ms: number, capped: boolean }> {
  const { s, gid, items } = x
  const t = now()
  const job = s.groups.rotate(gid)
  const settled = s.jobs.settle(job.id)
  const capped = await Promise.race([settled.then(() => false), sleep(budgetMs).then(() => true)])
  if (capped) await s.jobs.stop() // leaves the job queued; the node is closed after the suite
  const ms = msSince(t)
  const v = s.jobs.get(job.id)
  if (v === undefined) throw new Error('the rotation job vanished')
  if (!capped) {
    if (v.state !== 'done') throw new Error(`rotation job ended ${v.state}: ${v.error ?? ''}`)
    if (v.done !== items) throw new Error(`rotation job re-encrypted ${v.done} of ${items} items`)
    const stale = s.store.countStaleItems(gid, s.groups.view(gid).keyVersion)
    if (stale !== 0) throw new Error(`${stale} items still under an old key after the job`)
  }
  const done = capped ? v.done : items
  ctx.log(`rotation: ${done} items in ${Math.round(ms)} ms${capped ? ' (stopped at the time budget)' : ''}`)
  return { perSec: done / (ms / 1000), done, ms, capped }
}

/** Records per signature in the job (groups/reencrypt.ts BATCH) and in the batched floor. */
const JOB_STEP = 1000

/**
 * Windows of reencryptItem (one signature per record) and of reencryptItems
 * (one per JOB_STEP records) over the group's records (loaded once, before any
 * rotation, so all under one key version) in a tight loop: items/s.
 */
function floorWindows (ctx: SuiteContext, x: Setup): { single: () => number, batched: () => number } {
  const { s, gid } = x
  const recs = s.store.listKind(gid, 'item', Math.min(x.items, 5000)).map(r => fromStore(r, 'item'))
  const kv = s.groups.view(gid).keyVersion
  const oldKey = s.groups.keyFor(gid, recs[0]!.rec.b.kv)
  const newKey = new Uint8Array(randomBytes(32))
  const me = s.vault!.entityKey()
  const one = (i: number): unknown => reencryptItem(recs[i % recs.length]!, oldKey, me, kv + 1, newKey)
  const step = Math.min(JOB_STEP, recs.length)
  const steps = Math.max(1, Math.floor(recs.length / step))
  const batch = (i: number): unknown => reencryptItems(recs.slice((i % steps) * step, (i % steps + 1) * step), () => oldKey, me, kv + 1, newKey)
  measureRate(one, { ms: ctx.quick ? 20 : 300 })
  measureRate(batch, { ms: ctx.quick ? 20 : 300 })
  return {
    single: () => measureRate(one, { ms: ctx.quick ? 100 : 1000 }).perSec,
    batched: () => measureRate(batch, { ms: ctx.quick ? 100 : 1000, minOps: 2 }).perSec * step
  }
}

interface Rotations { median: number, samples: number[], floor: { median: number, samples: number[] }, batched: { median: number, samples: number[] }, capped: { done: number, ms: number } | undefined }

/**
 * Rotate up to `runs` times, each beside a window of the crypto floor (ABBA
 * order, so both see the same machine); stop early when a rotation hits the budget.
 */
async function rotations (ctx: SuiteContext, x: Setup, runs: number, budgetMs: number): Promise<Rotations> {
  const floor = floorWindows(ctx, x)
  const samples: number[] = []
  const floors: number[] = []
  const batched: number[] = []
  const windows = (): void => { floors.push(floor.single()); batched.push(floor.batched()) }
  let capped: { done: number, ms: number } | undefined
  for (let i = 0; i < runs && capped === undefined; i++) {
    if (i % 2 === 1) windows()
    const r = await rotateOnce(ctx, x, budgetMs)
    samples.push(r.perSec)
    if (r.capped) capped = { done: r.done, ms: r.ms }
    if (i % 2 === 0) windows()
  }
  return { median: median(samples), samples, floor: { median: median(floors), samples: floors }, batched: { median: median(batched), samples: batched }, capped }
}

const samplesText = (xs: number[]): string => xs.map(v => fmtNum(v)).join(', ')
const joined = (xs: number[]): string => xs.map(Math.round).join(' ')
const FLOOR_NAME = 'reencryptItem tight loop (decrypt+encrypt+sign)'
const BATCHED_NAME = `reencryptItems tight loop (decrypt+encrypt, 1 sign per ${fmtNum(JOB_STEP)})`

export const rotationSuite: Suite = {
  name: 'rotation',
  description: 're-encrypt items/s of a rotation job over 20,000 items (search index on and closed) vs a tight reencryptItem loop',
  async run (ctx) {
    const items = ctx.quick ? 300 : 20_000
    const runs = ctx.quick ? 1 : 3
    const budgetMs = ctx.quick ? 30_000 : 60_000
    const setupBudgetMs = ctx.quick ? 30_000 : 180_000
    const out: BenchResult[] = []

    // Row 2 first: a node with the index closed (fast to fill).
    const bare = await setup(ctx, items, false, setupBudgetMs)
    const bareRot = await rotations(ctx, bare, runs, budgetMs)

    // Row 2b: as row 2, every record's work on the main thread.
    const inline = await setup(ctx, items, false, setupBudgetMs, false)
    const inlineRot = await rotations(ctx, inline, runs, budgetMs)

    // Row 1: the real path.
    const real = await setup(ctx, items, true, setupBudgetMs)
    const realRot = await rotations(ctx, real, runs, budgetMs)
    const cappedNote = realRot.capped !== undefined
      ? `; stopped at the ${budgetMs / 1000} s budget after ${fmtNum(realRot.capped.done)} of ${fmtNum(real.items)} items (a full run would take ~${fmtNum(real.items / realRot.median)} s)`
      : ''
    out.push(ctx.result({
      name: `re-encrypt on rotation, ${fmtNum(real.items)} items`,
      value: realRot.median, unit: 'items/s',
      baseline: { name: FLOOR_NAME, value: realRot.floor.median, unit: 'items/s' },
      target: TARGET,
      notes: `unlocked node, search index on; rotate() to job done, ${realRot.samples.length} run(s): ${samplesText(realRot.samples)} items/s${cappedNote}${real.note !== '' ? '; ' + real.note : ''}; setup wrote ${fmtNum(real.items)} items in ${fmtNum(real.writeMs / 1000)} s (1,000 per tx)`,
      details: { items: real.items, runs: realRot.samples.length, capped: realRot.capped !== undefined, samples: joined(realRot.samples), baselineSamples: joined(realRot.floor.samples), setupWriteMs: Math.round(real.writeMs) }
    }))
    out.push(ctx.result({
      name: `re-encrypt on rotation, ${fmtNum(bare.items)} items, search index closed`,
      value: bareRot.median, unit: 'items/s',
      baseline: { name: FLOOR_NAME, value: bareRot.floor.median, unit: 'items/s' },
      target: TARGET,
      notes: `diagnostic: the store path and job without the search index; ${bareRot.samples.length} run(s): ${samplesText(bareRot.samples)} items/s${bare.note !== '' ? '; ' + bare.note : ''}; setup wrote ${fmtNum(bare.items)} items in ${fmtNum(bare.writeMs / 1000)} s`,
      details: { items: bare.items, runs: bareRot.samples.length, capped: bareRot.capped !== undefined, samples: joined(bareRot.samples), baselineSamples: joined(bareRot.floor.samples), batchedFloorSamples: joined(bareRot.batched.samples) }
    }))
    out.push(ctx.result({
      name: `re-encrypt on rotation, ${fmtNum(inline.items)} items, search index closed, all on the main thread`,
      value: inlineRot.median, unit: 'items/s',
      baseline: { name: FLOOR_NAME, value: inlineRot.floor.median, unit: 'items/s' },
      target: TARGET,
      notes: `diagnostic: row 2 with no worker thread (TypeScript sources), as every rotation ran before the job's thread; ${inlineRot.samples.length} run(s): ${samplesText(inlineRot.samples)} items/s${inline.note !== '' ? '; ' + inline.note : ''}`,
      details: { items: inline.items, runs: inlineRot.samples.length, capped: inlineRot.capped !== undefined, samples: joined(inlineRot.samples), baselineSamples: joined(inlineRot.floor.samples) }
    }))
    // Row 4: how far batch signing alone can take the job (every node's windows).
    const batchedAll = [...realRot.batched.samples, ...bareRot.batched.samples, ...inlineRot.batched.samples]
    const singleAll = [...realRot.floor.samples, ...bareRot.floor.samples, ...inlineRot.floor.samples]
    out.push(ctx.result({
      name: `re-encrypt crypto floor after batch signing (${fmtNum(JOB_STEP)} records per signature)`,
      value: median(batchedAll), unit: 'items/s',
      baseline: { name: FLOOR_NAME, value: median(singleAll), unit: 'items/s' },
      target: TARGET,
      notes: `no store, one core: decrypt + encrypt + encode + Merkle tree, one Ed25519 sign per ${fmtNum(JOB_STEP)}; the job's rows above can reach at most this; ${batchedAll.length} window(s): ${samplesText(batchedAll)} items/s`,
      details: { samples: joined(batchedAll), baselineSamples: joined(singleAll) }
    }))

    // Row 3: single acknowledged writes on the full node (index on).
    const { s, gid } = real
    const cs = contents(64)
    let n = 0
    const lat: number[] = []
    const write = (): void => { const t = now(); s.items.create(gid, itemInput(cs[n++ & 63]!)); lat.push(msSince(t)) }
    measureRate(write, { ms: ctx.quick ? 20 : 200, minOps: 3 })
    lat.length = 0
    const raw = rawInserts(ctx)
    const windowMs = ctx.quick ? 100 : 1000
    const ab = await interleaved(runs, () => measureRate(write, { ms: windowMs, minOps: 3 }).perSec, () => raw.perRow(windowMs))
    const l = summarize(lat)
    out.push(ctx.result({
      name: `item writes/s, node holding ${fmtNum(real.items)} items, 1 tx each`,
      value: ab.a.median, unit: 'items/s',
      baseline: { name: PER_ROW_NAME, value: ab.b.median, unit: 'rows/s' },
      notes: `compare with the store suite's first row (empty node): write latency p50 ${fmtNum(l.p50)} ms, p99 ${fmtNum(l.p99)} ms`,
      details: { heldItems: real.items, p50Ms: l.p50, p99Ms: l.p99, samples: joined(ab.a.samples), baselineSamples: joined(ab.b.samples) }
    }))
    return out
  }
}
