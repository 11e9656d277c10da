/**
 * http: acknowledged item writes per second through the HTTP API of a real
 * node running in its own process (bench/lib/daemon-child.ts), driven by
 * CONCURRENCY keep-alive clients in the harness process (closed loop: each
 * client sends its next POST when the previous 201 arrives).
 *
 *  value     POST /api/v1/groups/:gid/items, 201s per second; p50/p99 latency
 *  baseline  writes: raw better-sqlite3 inserts, one transaction per row
 *            (as in the store suite), in windows interleaved with the HTTP ones;
 *            latency: GET /api/v1/health at the same concurrency (the cost of
 *            HTTP + auth + routing with no work behind it)
 *
 * Client and node share the machine's cores: on 2 cores the load generator's
 * own CPU is part of what is measured (noted in the results).
 */
import { cpus } from 'node:os'
import type { Suite } from '../lib/types.js'
import { closedLoop, interleaved, medianOf, summarize } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { initBenchNode, startNodeProcess } from '../lib/node.js'
import { PER_ROW_NAME, rawInserts } from '../lib/sqlite-baseline.js'
import { fmtNum } from '../lib/format.js'

const CONCURRENCY = 16

export const httpSuite: Suite = {
  name: 'http',
  description: `item writes/s and latency through the HTTP API of a node process, ${CONCURRENCY} clients, vs raw SQLite inserts`,
  async run (ctx) {
    const runs = ctx.quick ? 1 : 3
    const windowMs = ctx.quick ? 300 : 3000
    const warmupMs = ctx.quick ? 100 : 1000
    const init = await initBenchNode(ctx)
    const node = await startNodeProcess(ctx, init.dataDir, { maxSockets: CONCURRENCY })
    const raw = rawInserts(ctx)
    const g = await node.api.ok('POST', '/api/v1/groups', { name: 'bench-http' }) as { id: string }
    const path = `/api/v1/groups/${g.id}/items`
    const cs = contents(256)
    const write = async (seq: number): Promise<void> => {
      const r = await node.api.call('POST', path, itemInput(cs[seq & 255]!))
      if (r.status !== 201) throw new Error(`POST items → ${r.status}: ${r.text.slice(0, 200)}`)
    }
    const health = async (): Promise<void> => {
      const r = await node.api.call('GET', '/api/v1/health')
      if (r.status !== 200) throw new Error(`GET health → ${r.status}`)
    }

    const writeLat: number[] = []
    let errors = 0
    let firstError: string | undefined
    let warm = false
    const ab = await interleaved(runs, async () => {
      const r = await closedLoop({ concurrency: CONCURRENCY, ms: windowMs, warmupMs: warm ? 0 : warmupMs, op: write })
      warm = true
      writeLat.push(...r.latencies)
      errors += r.errors
      firstError ??= r.firstError
      return r.perSec
    }, () => raw.perRow(windowMs / 2))
    const writes = ab.a
    if (writes.median === 0) throw new Error(`no write succeeded: ${firstError ?? 'unknown error'}`)
    ctx.log(`http writes: ${Math.round(writes.median)}/s`)
    const healthLat: number[] = []
    const healthRate = await medianOf(runs, async (i) => {
      const r = await closedLoop({ concurrency: CONCURRENCY, ms: windowMs / 2, warmupMs: i === 0 ? warmupMs / 2 : 0, op: health })
      healthLat.push(...r.latencies)
      return r.perSec
    })
    const w = summarize(writeLat)
    const h = summarize(healthLat)
    const shared = `${CONCURRENCY} keep-alive clients in the harness process and the node in its own process share ${cpus().length} cores`
    const errNote = errors > 0 ? `; ${errors} failed requests (first: ${firstError})` : ''
    return [
      ctx.result({
        name: `item writes/s over HTTP, ${CONCURRENCY} clients`,
        value: writes.median, unit: 'items/s',
        baseline: { name: PER_ROW_NAME, value: ab.b.median, unit: 'rows/s' },
        notes: `${shared}; GET /health at the same concurrency: ${fmtNum(healthRate.median)} req/s${errNote}`,
        details: { concurrency: CONCURRENCY, runs, windowMs, samples: writes.samples.map(x => Math.round(x)).join(' '), baselineSamples: ab.b.samples.map(x => Math.round(x)).join(' '), requests: w.n, errors, healthPerSec: Math.round(healthRate.median) }
      }),
      ctx.result({
        name: `write latency p50, ${CONCURRENCY} clients`,
        value: w.p50, unit: 'ms',
        baseline: { name: `GET /health p50, ${CONCURRENCY} clients`, value: h.p50, unit: 'ms' },
        details: { n: w.n, mean: w.mean, p90: w.p90, max: w.max }
      }),
      ctx.result({
        name: `write latency p99, ${CONCURRENCY} clients`,
        value: w.p99, unit: 'ms',
        baseline: { name: `GET /health p99, ${CONCURRENCY} clients`, value: h.p99, unit: 'ms' },
        details: { n: w.n, healthN: h.n, healthMax: h.max }
      })
    ]
  }
}
