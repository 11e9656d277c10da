/**
 * mcp: what an agent pays for going through `cairn mcp` instead of the HTTP API.
 * A node in its own process (daemon-child.ts) and a `cairn mcp` process on its
 * data dir (the compiled sources of this run), driven by the MCP SDK's Client
 * over stdio from the harness, as an agent host drives it. One call at a time.
 *
 *  value     `remember {content, group}` and `recall {query, group}` tool calls:
 *            harness → JSON-RPC over stdio → MCP server → HTTP → daemon → back
 *  baseline  the same operations over plain HTTP from the harness
 *            (POST /api/v1/groups/:gid/items, GET /api/v1/search), keep-alive,
 *            in windows alternating with the MCP ones (A B B A …)
 *
 * ratio = MCP / HTTP: the MCP hop's share of an agent's latency.
 */
import { dirname, join } from 'node:path'
import type { Suite } from '../lib/types.js'
import { interleaved, msSince, now, summarize, type LatencySummary } from '../lib/timing.js'
import { contents } from '../lib/items.js'
import { ensureBuild } from '../lib/build.js'
import { initBenchNode, startNodeProcess } from '../lib/node.js'
import { connectMcp } from '../../src/mcp/connect.js'

export const mcpSuite: Suite = {
  name: 'mcp',
  description: 'MCP remember / recall latency p50/p99 through `cairn mcp` (SDK client over stdio) vs the same operations over plain HTTP',
  async run (ctx) {
    const perWindow = ctx.quick ? 10 : 100
    const windows = ctx.quick ? 2 : 4
    const init = await initBenchNode(ctx)
    const node = await startNodeProcess(ctx, init.dataDir, { maxSockets: 4 })
    const g = await node.api.ok('POST', '/api/v1/groups', { name: 'bench-mcp' }) as { id: string }
    // `cairn mcp` from this run's compiled sources, not from the shared dist/.
    const base = dirname(dirname(dirname(ensureBuild())))
    const entry = `await import(${JSON.stringify(join(base, 'src/polyfill/index.js'))}); const { main } = await import(${JSON.stringify(join(base, 'src/cli/main.js'))}); await main(['node', 'cairn', 'mcp', '--data-dir', ${JSON.stringify(init.dataDir)}])`
    const mcp = await connectMcp({ dataDir: init.dataDir, name: 'bench', args: ['--input-type=module', '-e', entry] })
    ctx.defer(() => mcp.close())

    const cs = contents(256)
    let seq = 0
    const remember = async (): Promise<void> => { await mcp.call('remember', { content: cs[seq++ & 255]!, group: g.id, type: 'note' }) }
    const post = async (): Promise<void> => {
      const r = await node.api.call('POST', `/api/v1/groups/${g.id}/items`, { content: cs[seq++ & 255]!, type: 'note' })
      if (r.status !== 201) throw new Error(`POST items → ${r.status}: ${r.text.slice(0, 200)}`)
    }
    // A word of the generated text that many items hold, so both searches rank real hits.
    const query = mostCommonWord(cs)
    const recall = async (): Promise<void> => {
      const r = await mcp.call<{ results: unknown[] }>('recall', { query, group: g.id, limit: 10 })
      if (r.results.length === 0) throw new Error(`recall "${query}" found nothing`)
    }
    const search = async (): Promise<void> => {
      const r = await node.api.call('GET', `/api/v1/search?q=${encodeURIComponent(query)}&group=${g.id}&limit=10`)
      if (r.status !== 200 || (r.body as { results: unknown[] }).results.length === 0) throw new Error(`GET search → ${r.status}: ${r.text.slice(0, 200)}`)
    }

    const sample = (op: () => Promise<void>, into: number[]) => async (): Promise<number> => {
      for (let i = 0; i < perWindow; i++) { const t = now(); await op(); into.push(msSince(t)) }
      return into.length
    }
    // The group holds every test text before any search, so the query has hits from the start.
    for (const c of cs) await node.api.ok('POST', `/api/v1/groups/${g.id}/items`, { content: c, type: 'note' })
    // Warm both paths (JIT, connections, the MCP server's first status call).
    for (let i = 0; i < 5; i++) { await remember(); await post(); await recall(); await search() }
    const lat = { remember: [] as number[], post: [] as number[], recall: [] as number[], search: [] as number[] }
    await interleaved(windows, sample(remember, lat.remember), sample(post, lat.post))
    await interleaved(windows, sample(recall, lat.recall), sample(search, lat.search))
    ctx.log(`mcp: ${lat.remember.length} remembers, ${lat.recall.length} recalls, each beside as many HTTP calls`)

    const rows = (what: string, via: LatencySummary, http: LatencySummary, httpName: string) => (['p50', 'p99'] as const).map(p => ctx.result({
      name: `MCP ${what} latency ${p}`,
      value: via[p], unit: 'ms',
      baseline: { name: `${httpName} over HTTP ${p}`, value: http[p], unit: 'ms' },
      ...(p === 'p50' ? { notes: `one call at a time; ${via.n} calls each way, ${windows} alternating windows` } : {}),
      details: { n: via.n, mean: via.mean, p90: via.p90, max: via.max, httpMean: http.mean, httpMax: http.max }
    }))
    return [
      ...rows('remember', summarize(lat.remember), summarize(lat.post), 'POST …/items'),
      ...rows('recall', summarize(lat.recall), summarize(lat.search), 'GET /search')
    ]
  }
}

function mostCommonWord (texts: string[]): string {
  const n = new Map<string, number>()
  for (const t of texts) for (const w of new Set(t.toLowerCase().match(/[a-z]{5,}/g) ?? [])) n.set(w, (n.get(w) ?? 0) + 1)
  return [...n].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'the'
}
