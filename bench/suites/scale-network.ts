/**
 * scale-network: KEEPERS keeper processes and NODES entity node processes on
 * loopback, GROUPS groups of 2–6 members each (two keepers per group), RATE
 * writes/s spread over the groups (issue 14: every write on all of its group's
 * keepers and members, none lost, p99 beside the single-group p99). Runs only
 * when named (minutes, 24 processes).
 *
 * Set-up, all through the HTTP API as users do it (entity nodes bootstrap from
 * the keepers, as `cairn start --bootstrap` would): the owner of each group
 * creates it (POST /api/v1/groups, chatty), invites its other members with the
 * address of their node (POST …/members {entityId, role: member, multiaddr});
 * each invitee's node lists the invitation (GET /api/v1/invites) and accepts it
 * (POST /api/v1/invites/:id/accept; on a build without invitations the node
 * adopts the group when its descriptor is delivered); the owner adds two keepers with their
 * address (POST …/keepers). The suite waits until every member and keeper holds
 * every group it belongs to, and until writes reach all of them by push.
 *
 * Arrival is the `stored` event of the item on each node's SSE stream
 * (GET /api/v1/events, harness clock), the writer's own included. A write
 * counts as delivered when every member node and both keepers of its group
 * stored it; latency = its scheduled start → the last of them.
 *
 *  1  p99 of write → on all its group's nodes, RATE/s open loop, each write on
 *     a random member of a random group     vs the same RATE into ONE group of the
 *                                              same network, windows alternating (ABBA)
 *  2  writes lost (not on all of their group's nodes within LOST_MS)   vs writes made
 *  3  the rate achieved (writes delivered everywhere per second)       vs the rate offered
 */
import { cpus } from 'node:os'
import type { Suite, SuiteContext } from '../lib/types.js'
import { interleaved, openLoop, summarize, type LoadResult } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { initBenchNode, startNodeProcess, type NodeProcessHandle } from '../lib/node.js'
import { openEvents } from '../lib/sse.js'
import { Arrivals } from '../lib/gossip.js'
import { holdsGroup, until } from '../lib/cluster.js'
import { entityOf, procCpuSeconds } from '../lib/fleet.js'
import { cpuMeter } from '../lib/cpu-meter.js'
import { profiled } from '../lib/profile.js'
import { fmtNum } from '../lib/format.js'

/** Longer than a chatty group's anti-entropy interval (60 s): a write lost here was carried by neither push nor sync. */
const LOST_MS = 90_000

interface Group { gid: string, members: NodeProcessHandle[], keepers: NodeProcessHandle[], arrivals: Arrivals<string>, slot: Map<NodeProcessHandle, number> }

/** How long the network is watched at rest. */
const IDLE_MS = 5000

/** % of a core each process spent over `ms` with nothing asked of it: the total, means by role, and the busiest. */
async function idleCpu (procs: Array<[string, number]>, ms: number): Promise<{ total: number, keepers: number, nodes: number, most: string }> {
  const c0 = procs.map(([, pid]) => procCpuSeconds(pid) ?? NaN)
  await new Promise(resolve => setTimeout(resolve, ms))
  const pct = procs.map(([name, pid], i): [string, number] => [name, 100 * ((procCpuSeconds(pid) ?? NaN) - c0[i]!) / (ms / 1000)])
  const mean = (pre: string): number => { const xs = pct.filter(([n]) => n.startsWith(pre)).map(([, v]) => v); return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length) }
  const top = [...pct].sort((a, b) => b[1] - a[1]).slice(0, 3)
  return { total: pct.reduce((a, [, v]) => a + v, 0), keepers: mean('keeper'), nodes: mean('node'), most: top.map(([n, v]) => `${n} ${fmtNum(v)}%`).join(', ') }
}

/** Who is in group g: 2–6 members spread over the nodes, two keepers. */
function layout (g: number, nodes: number, keepers: number): { members: number[], keepers: number[] } {
  const size = Math.min(2 + (g % 5), nodes)
  const members: number[] = []
  for (let j = 0; members.length < size; j++) { const n = (g * 7 + j * 3) % nodes; if (!members.includes(n)) members.push(n) }
  return { members, keepers: [g % keepers, (g + 1) % keepers] }
}

/** Start `n` node processes, `par` at a time (2 cores: 24 cold starts at once time out), bootstrapping from `bootstrap`. */
async function startMany (ctx: SuiteContext, n: number, keeper: boolean, par: number, bootstrap: string[]): Promise<NodeProcessHandle[]> {
  const out: NodeProcessHandle[] = []
  for (let i = 0; i < n; i += par) {
    const inits = await Promise.all(Array.from({ length: Math.min(par, n - i) }, async () => await initBenchNode(ctx, { keeper })))
    out.push(...await Promise.all(inits.map(async x => await startNodeProcess(ctx, x.dataDir, { keeper, flags: { network: { bootstrap } } }))))
  }
  return out
}

/** The owner creates the group, invites the others (who accept on their node), adds the keepers. */
async function formGroup (g: number, members: NodeProcessHandle[], entities: Map<NodeProcessHandle, string>, keepers: NodeProcessHandle[]): Promise<string> {
  const owner = members[0]!
  const { id: gid } = await owner.api.ok('POST', '/api/v1/groups', { name: `scale-net-${g}`, culture: 'chatty' }) as { id: string }
  for (const m of members.slice(1)) {
    await owner.api.ok('POST', `/api/v1/groups/${gid}/members`, { entityId: entities.get(m)!, role: 'member', multiaddr: m.multiaddr })
  }
  await Promise.all(members.slice(1).map(async m => {
    const inv = await until(`node ${m.peerId} to list its invitation to group ${g}`, async () => {
      const r = await m.api.call('GET', '/api/v1/invites')
      // A build without invitations (SPEC rows added 2026-12): the member's node adopts the group on delivery.
      if (r.status === 404) return await holdsGroup(m, gid) ? 'adopted' : undefined
      if (r.status !== 200) throw new Error(`GET /api/v1/invites → ${r.status}: ${r.text.slice(0, 200)}`)
      return (r.body as { invites: Array<{ id: string, groupId: string }> }).invites.find(i => i.groupId === gid)
    }, 60_000, 100)
    if (inv !== 'adopted') await m.api.ok('POST', `/api/v1/invites/${inv.id}/accept`)
  }))
  for (const k of keepers) await owner.api.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: k.peerId, multiaddr: k.multiaddr })
  return gid
}

/** Every node of the group (members and keepers) shows it with every member active. */
async function formed (grp: Group): Promise<boolean> {
  for (const n of [...grp.members, ...grp.keepers]) {
    const r = await n.api.call('GET', `/api/v1/groups/${grp.gid}`)
    if (r.status !== 200) return false
    const body = r.body as { members: Array<{ state?: string }>, keepers: string[] }
    if (body.members.length !== grp.members.length || body.members.some(m => m.state !== undefined && m.state !== 'active') || body.keepers.length !== grp.keepers.length) return false
  }
  return true
}

/** Open loop at `rate`/s over `groups`: each write on a random member of a random group; latency to the last of its group's nodes. */
async function load (groups: Group[], rate: number, ms: number, into: number[], lost: { n: number, first?: string }): Promise<LoadResult> {
  const cs = contents(64)
  const res = await openLoop({
    ratePerSec: rate, ms,
    op: async (i, due) => {
      const grp = groups[Math.floor(Math.random() * groups.length)]!
      const w = grp.members[Math.floor(Math.random() * grp.members.length)]!
      const r = await w.api.call('POST', `/api/v1/groups/${grp.gid}/items`, itemInput(cs[i & 63]!))
      if (r.status !== 201) throw new Error(`POST items on a member → ${r.status}: ${r.text.slice(0, 200)}`)
      try {
        const at = await grp.arrivals.wait((r.body as { id: string }).id, LOST_MS)
        into.push(Number(at - due) / 1e6)
      } catch (e) { lost.n++; lost.first ??= String(e); throw e }
    }
  })
  return res
}

export const scaleNetworkSuite: Suite = {
  name: 'scale-network',
  explicit: true,
  description: '24 node processes (4 keepers, 20 entity nodes, 50 groups of 2–6 members), 200 writes/s spread over the groups: every write on all its nodes, p99 vs one group (minutes)',
  async run (ctx) {
    const quick = ctx.quick
    const nKeepers = quick ? 2 : 4
    const nNodes = quick ? 4 : 20
    const nGroups = quick ? 4 : 50
    const rate = quick ? 20 : Number(process.env.CAIRN_BENCH_SCALE_RATE ?? 200)
    const windowMs = quick ? 1000 : 5000

    const t0 = Date.now()
    // Keepers first; entity nodes bootstrap from them (kad-dht then finds members' nodes by peer ID), as a deployment would.
    const keepers = await startMany(ctx, nKeepers, true, 4, [])
    const nodes = await startMany(ctx, nNodes, false, 4, keepers.map(k => k.multiaddr))
    const entities = new Map(await Promise.all(nodes.map(async n => [n, await entityOf(n)] as const)))
    ctx.log(`scale-network: ${nKeepers + nNodes} processes started in ${fmtNum((Date.now() - t0) / 1000)} s`)

    const t1 = Date.now()
    const groups: Group[] = []
    for (let g = 0; g < nGroups; g += 5) {
      const batch = Array.from({ length: Math.min(5, nGroups - g) }, (_, j) => g + j)
      groups.push(...await Promise.all(batch.map(async i => {
        const l = layout(i, nNodes, nKeepers)
        const members = l.members.map(x => nodes[x]!)
        const ks = l.keepers.map(x => keepers[x]!)
        const gid = await formGroup(i, members, entities, ks)
        const all = [...members, ...ks]
        return { gid, members, keepers: ks, arrivals: new Arrivals<string>(all.length), slot: new Map(all.map((n, s) => [n, s])) }
      })))
    }
    await until('every member and keeper to hold its groups', async () => { for (const grp of groups) if (!await formed(grp)) return false; return true }, 180_000, 500)
    const memberships = groups.reduce((s, grp) => s + grp.members.length, 0)
    ctx.log(`scale-network: ${nGroups} groups (${memberships} memberships) formed in ${fmtNum((Date.now() - t1) / 1000)} s`)

    const byGid = new Map(groups.map(grp => [grp.gid, grp]))
    for (const n of [...keepers, ...nodes]) {
      const es = openEvents(n.apiPort, n.token, '', (e, at) => {
        if (e.type !== 'stored' || e.kind !== 'item' || e.id === undefined || e.groupId === undefined) return
        const grp = byGid.get(e.groupId)
        const s = grp?.slot.get(n)
        if (grp !== undefined && s !== undefined) grp.arrivals.report(e.id, s, at)
      })
      ctx.defer(() => es.close())
      await es.ready
    }

    // Warm-up: rounds of one write per group until a round reaches all of each group's nodes
    // within WARM_MS (push working everywhere), for at most 90 s; the notes say how the last round went.
    const WARM_MS = 5000
    let warmOk = 0
    const warmEnd = Date.now() + 90_000
    while (Date.now() < warmEnd) {
      const lat: number[] = []
      await Promise.all(groups.map(async grp => await load([grp], 1, 1000, lat, { n: 0 }).catch(() => {})))
      warmOk = lat.filter(x => x <= WARM_MS).length
      ctx.log(`scale-network: warm-up round: ${warmOk} of ${groups.length} groups had their write on all their nodes within ${WARM_MS / 1000} s`)
      if (warmOk === groups.length) break
    }
    // The network at rest: each process's CPU over IDLE_MS with no writes (timers, heartbeats, sync rounds).
    const procs: Array<[string, number]> = [...keepers.map((k, i): [string, number] => [`keeper${i + 1}`, k.proc.pid!]), ...nodes.map((n, i): [string, number] => [`node${i + 1}`, n.proc.pid!])]
    const watched = { keeper1: keepers[0]!, node1: nodes[0]! } // profiled with CAIRN_BENCH_PROFILE
    const idle = await profiled('scale-network-idle', watched, async () => await idleCpu(procs, quick ? 1000 : IDLE_MS))
    ctx.log(`scale-network: at rest, ${fmtNum(idle.total)}% of a core in all (keepers ${fmtNum(idle.keepers)}% each, entity nodes ${fmtNum(idle.nodes)}% each, on average; most: ${idle.most})`)
    const cpu = cpuMeter(Object.fromEntries(procs))
    const one = [groups.find(grp => grp.members.length === 4) ?? groups[0]!]
    const scratch: number[] = []
    const scratchLost = { n: 0 }
    await load(groups, rate, windowMs / 2, scratch, scratchLost)
    await load(one, rate, windowMs / 2, scratch, scratchLost)

    const spread: number[] = []
    const single: number[] = []
    const lost = { n: 0, first: undefined as string | undefined }
    const singleLost = { n: 0, first: undefined as string | undefined }
    const made = { spread: 0, single: 0 }
    const r = await profiled('scale-network-load', watched, async () => await interleaved(2,
      async () => await cpu.around(() => made.spread, async () => { const x = await load(groups, rate, windowMs, spread, lost); made.spread += x.ok + x.errors; return x.perSec }),
      async () => { const x = await load(one, rate, windowMs, single, singleLost); made.single += x.ok + x.errors; return x.perSec }))
    const ls = summarize(spread)
    const l1 = summarize(single)
    ctx.log(`scale-network: p99 ${fmtNum(ls.p99)} ms over ${nGroups} groups, ${fmtNum(l1.p99)} ms in one; lost ${lost.n} / ${made.spread}; achieved ${fmtNum(r.a.median)}/s of ${rate}`)
    const per = cpu.perOp()
    const sum = (pred: (n: string) => boolean): number => Object.entries(per).filter(([n]) => pred(n)).reduce((a, [, v]) => a + v, 0)
    const cpuLine = `CPU per write made over the ${nGroups}-group windows (utime + stime): keepers ${fmtNum(sum(n => n.startsWith('keeper')))} µs, entity nodes ${fmtNum(sum(n => n.startsWith('node')))} µs, harness ${fmtNum(per.harness!)} µs; at rest the network takes ${fmtNum(idle.total)}% of a core (${fmtNum(idle.total * 1e4 / rate)} µs per write at ${rate}/s)`
    ctx.log(`scale-network: ${cpuLine}`)

    const recv = (grp: Group): number => grp.members.length + grp.keepers.length
    const shared = `last warm-up round: ${warmOk} of ${nGroups} groups had a write on all their nodes within ${WARM_MS / 1000} s; ${nKeepers} keepers, ${nNodes} entity nodes and the harness share ${cpus().length} cores; ${nGroups} groups, ${memberships} memberships, 2 keepers each; a write counts when every member node and both keepers of its group emitted \`stored\` on SSE (mean ${fmtNum(groups.reduce((s, g) => s + recv(g), 0) / groups.length)} nodes per group; the single group has ${recv(one[0]!)})`
    return [
      ctx.result({
        name: `write → on all its group's nodes p99, ${rate}/s over ${nGroups} groups`,
        value: ls.p99, unit: 'ms',
        baseline: { name: `the same, ${rate}/s into one group of the network`, value: l1.p99, unit: 'ms' },
        notes: `open loop, 2 × ${windowMs / 1000} s windows each (ABBA), each write on a random member's HTTP API, latency from its scheduled start to the last node's stored event; p50 ${fmtNum(ls.p50)} ms (one group ${fmtNum(l1.p50)} ms); ${shared}`,
        details: { n: ls.n, p50: ls.p50, p90: ls.p90, max: ls.max, baselineN: l1.n, baselineP50: l1.p50, baselineMax: l1.max }
      }),
      ctx.result({
        name: `writes lost, ${rate}/s over ${nGroups} groups`,
        value: lost.n, unit: 'writes',
        baseline: { name: 'writes made', value: made.spread, unit: 'writes' },
        target: { op: '<=', value: 0 },
        notes: `lost = not stored on every node of its group within ${LOST_MS / 1000} s${lost.first !== undefined ? ` (first: ${lost.first})` : ''}; in the single-group windows ${singleLost.n} of ${made.single}`,
        details: { singleLost: singleLost.n, singleMade: made.single }
      }),
      ctx.result({
        name: `writes delivered everywhere per second, ${nGroups} groups`,
        value: r.a.median, unit: 'writes/s',
        baseline: { name: 'offered (open loop)', value: rate, unit: 'writes/s' },
        target: { op: '>=', value: 0.95 * rate },
        notes: `median of the windows (${r.a.samples.map(fmtNum).join(', ')}); one group: ${r.b.samples.map(fmtNum).join(', ')}; a window's rate = writes delivered on all nodes / (window + drain); ${cpuLine}`,
        details: { samples: r.a.samples.map(fmtNum).join(' '), singleSamples: r.b.samples.map(fmtNum).join(' '), idleCpuPercent: Math.round(idle.total), cpuPerWriteKeepersUs: Math.round(sum(n => n.startsWith('keeper'))), cpuPerWriteNodesUs: Math.round(sum(n => n.startsWith('node'))) }
      })
    ]
  }
}
