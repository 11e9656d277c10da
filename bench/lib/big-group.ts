/**
 * A node holding one big group, for the sync and catch-up suites.
 *
 * Built once per harness run and per size (the template), then copied into
 * each suite's own temp dir: `cairn init` (the real initNode), then in this
 * process the node's services (openLocalServices, search index closed: nothing
 * reads it here) create a group and write `items` items through
 * ItemService.create, BATCH per transaction — real sealed, signed records
 * through the acceptance gates, just without an HTTP request each.
 *
 * The group is taciturn: its writes are never pushed, so the sync suite's
 * differences stay differences until an anti-entropy session, and a catch-up is
 * anti-entropy alone. The template's temp dir is removed when the harness exits.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNode } from '../../src/node/init.js'
import { loadConfig } from '../../src/config/load.js'
import { loadNodeKey } from '../../src/node/node-key.js'
import { dataPaths } from '../../src/node/paths.js'
import { buildServices } from '../../src/node/services.js'
import { silentLogger } from '../../src/util/logger.js'
import { BENCH_PASSPHRASE } from './node.js'
import { contents, itemInput } from './items.js'
import { msSince, now } from './timing.js'
import type { SuiteContext } from './types.js'

const BATCH = 5000

export interface BigGroup {
  /** A fresh copy of the template data dir (owned by the suite's context). */
  dataDir: string
  gid: string
  items: number
  /** How long building the template took (0 when it was already built in this run). */
  buildMs: number
}

const templates = new Map<number, Promise<{ dir: string, gid: string, buildMs: number }>>()
const roots: string[] = []
process.once('exit', () => { for (const r of roots) rmSync(r, { recursive: true, force: true }) })

async function build (items: number, log: (m: string) => void): Promise<{ dir: string, gid: string, buildMs: number }> {
  const root = mkdtempSync(join(tmpdir(), 'cairn-bench-biggroup-'))
  roots.push(root)
  const dir = join(root, 'node')
  await initNode({ dataDir: dir, keeper: false, passphrase: BENCH_PASSPHRASE, env: {} })
  const s = buildServices(loadConfig(dir, { env: {} }), loadNodeKey(dataPaths(dir).nodeKey), silentLogger())
  try {
    await s.unlock(BENCH_PASSPHRASE)
    s.search.close()
    const g = s.groups.create({ name: `bench-big-${items}`, culture: 'taciturn' })
    const cs = contents(512)
    const t = now()
    let done = 0
    while (done < items) {
      const k = Math.min(BATCH, items - done)
      s.store.tx(() => { for (let i = 0; i < k; i++) s.items.create(g.id, itemInput(cs[(done + i) & 511]!)) })
      done += k
      if (done % 20_000 === 0 || done === items) log(`big group: ${done} / ${items} items written (${Math.round(done / (msSince(t) / 1000))}/s)`)
    }
    const n = s.store.countLive(g.id, 'item')
    if (n !== items) throw new Error(`the big group holds ${n} items, not ${items}`)
    return { dir, gid: g.id, buildMs: msSince(t) }
  } finally {
    await s.close()
  }
}

/** A node data dir holding a taciturn group of `items` items (a copy of this run's template). */
export async function bigGroupNode (ctx: SuiteContext, items: number): Promise<BigGroup> {
  let fresh = false
  let t = templates.get(items)
  if (t === undefined) {
    fresh = true
    t = build(items, ctx.log)
    templates.set(items, t)
    t.catch(() => templates.delete(items))
  }
  const tpl = await t
  const dataDir = join(ctx.tempDir('cairn-bench-big-'), 'node')
  cpSync(tpl.dir, dataDir, { recursive: true })
  return { dataDir, gid: tpl.gid, items, buildMs: fresh ? tpl.buildMs : 0 }
}
