/**
 * membership: what consent and deletion cost (docs/MEMBERSHIP.md).
 *
 *  1  invite → accepted → first item readable, p50: A (a node process) writes an
 *     item into a new group and invites B (another process) by address; B hears
 *     of the invitation by its SSE stream, accepts at once over its API, and the
 *     clock stops when B's GET of the item answers 200. Baseline: four fresh-stream
 *     round trips A → B in the same loop (the invitation, the answer, the
 *     group's delivery and a sync each need one at least).
 *  2  group delete purge rate: DELETE of a group of N items (~1 KiB each, with
 *     and the group's descriptor) through MembershipService on a node's
 *     real store — purge in one transaction with secure_delete, TRUNCATE
 *     checkpoint, keys shredded, tombstone, audit — in records/s. Baseline: raw
 *     better-sqlite3 DELETE of the same rows (a copy of the same database file,
 *     its pragmas as the store's but secure_delete off, no checkpoint).
 */
import Database from 'better-sqlite3'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchResult, Suite } from '../lib/types.js'
import { msSince, now, summarize } from '../lib/timing.js'
import { contents, itemInput } from '../lib/items.js'
import { initBenchNode, openLocalServices, startNodeProcess } from '../lib/node.js'
import { openEvents, type NodeEventMsg } from '../lib/sse.js'
import { fmtNum } from '../lib/format.js'

export const membershipSuite: Suite = {
  name: 'membership',
  description: 'invite → accepted → first item readable (two processes) vs 4 fresh-stream round trips; group delete purge rate vs raw SQLite deletes of the same rows',
  async run (ctx) {
    const rounds = ctx.quick ? 3 : 30
    const purgeItems = ctx.quick ? 300 : 20_000

    // ---- 1: consent latency ----
    const [ai, bi] = await Promise.all([initBenchNode(ctx), initBenchNode(ctx)])
    const A = await startNodeProcess(ctx, ai.dataDir)
    // B takes 1 + rounds invitations from A within minutes: above membership.invites_per_hour_per_peer (30), which this suite does not time.
    const B = await startNodeProcess(ctx, bi.dataDir, { flags: { membership: { invites_per_hour_per_peer: 10_000 } } })
    await B.api.ok('POST', '/api/v1/peers', { multiaddr: A.multiaddr })
    // The echo protocol of the baseline (bench-controls.ts).
    await Promise.all([A, B].map(async n => await n.ctl.call('protocols')))
    const waiters = new Map<string, (e: NodeEventMsg) => void>()
    const sse = openEvents(B.apiPort, B.token, '', e => { for (const w of waiters.values()) w(e) })
    await sse.ready
    ctx.defer(() => sse.close())
    const until = async <T>(pred: (e: NodeEventMsg) => T | undefined, ms = 30_000): Promise<T> => await new Promise<T>((resolve, reject) => {
      const key = String(Math.random())
      const t = setTimeout(() => { waiters.delete(key); reject(new Error('timed out waiting for an event on B')) }, ms)
      waiters.set(key, e => { const v = pred(e); if (v !== undefined) { clearTimeout(t); waiters.delete(key); resolve(v) } })
    })
    const echo = async (): Promise<number> => { const t = now(); for (let i = 0; i < 4; i++) await A.ctl.call('echo', { peers: [B.peerId], need: 1 }); return msSince(t) }
    const body = contents(1)[0]!
    const once = async (): Promise<{ total: number, arrive: number, accepted: number }> => {
      const g = await A.api.ok('POST', '/api/v1/groups', { name: 'bench consent' }) as { id: string }
      const it = await A.api.ok('POST', `/api/v1/groups/${g.id}/items`, itemInput(body)) as { id: string }
      const invited = until(e => e.type === 'invite' && e.groupId === g.id && e.kind === 'received' ? e.id : undefined)
      const t0 = now()
      await A.api.ok('POST', `/api/v1/groups/${g.id}/members`, { entityId: bi.entityId, role: 'member', multiaddr: B.multiaddr })
      const id = await invited
      const arrive = msSince(t0)
      const stored = until(e => e.type === 'stored' && e.id === it.id ? true : undefined)
      await B.api.ok('POST', `/api/v1/invites/${id}/accept`)
      await stored
      for (;;) { const r = await B.api.call('GET', `/api/v1/items/${it.id}`); if (r.status === 200) break; await new Promise(resolve => setTimeout(resolve, 2)) }
      const total = msSince(t0)
      return { total, arrive, accepted: total - arrive }
    }
    await once() // warm-up: connections, JIT
    await echo()
    const lat: number[] = []; const arrive: number[] = []; const after: number[] = []; const floor: number[] = []
    for (let i = 0; i < rounds; i++) {
      const r = await once()
      lat.push(r.total); arrive.push(r.arrive); after.push(r.accepted)
      floor.push(await echo())
    }
    const l = summarize(lat); const f = summarize(floor)
    ctx.log(`invite → readable p50 ${fmtNum(l.p50)} ms (invitation arrives ${fmtNum(summarize(arrive).p50)} ms, accept → readable ${fmtNum(summarize(after).p50)} ms); 4 round trips p50 ${fmtNum(f.p50)} ms`)
    await A.stop(); await B.stop()

    // ---- 2: purge rate ----
    const { s, dataDir } = await openLocalServices(ctx)
    const g = s.groups.create({ name: 'bench purge' })
    const cs = contents(256)
    for (let i = 0; i < purgeItems; i += 500) s.store.tx(() => { for (let j = i; j < Math.min(purgeItems, i + 500); j++) s.items.create(g.id, itemInput(cs[j & 255]!)) })
    const records = s.store.countGroupRecords(g.id)
    // The baseline deletes the same rows from a copy of the same file.
    s.store.truncateWal()
    const copy = join(ctx.tempDir('cairn-bench-purge-'), 'copy.db')
    copyFileSync(join(dataDir, 'cairn.db'), copy)
    const t0 = now()
    s.membership.deleteGroup(g.id)
    const purgeMs = msSince(t0)
    const db = new Database(copy)
    db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL'); db.pragma('secure_delete = OFF')
    const t1 = now()
    db.transaction(() => { db.prepare('DELETE FROM records WHERE gid = ?').run(g.id); db.prepare('DELETE FROM history WHERE gid = ?').run(g.id) })()
    const rawMs = msSince(t1)
    db.close()
    ctx.log(`purge of ${fmtNum(records)} records: ${fmtNum(purgeMs)} ms; raw DELETE: ${fmtNum(rawMs)} ms`)

    const out: BenchResult[] = [
      ctx.result({
        name: 'invite → accepted → first item readable, p50', value: l.p50, unit: 'ms',
        baseline: { name: '4 fresh-stream round trips A → B', value: f.p50, unit: 'ms' },
        notes: `p99 ${fmtNum(l.p99)} ms over ${rounds} rounds; the invitation reaches B in ${fmtNum(summarize(arrive).p50)} ms (p50), accept → item readable ${fmtNum(summarize(after).p50)} ms; no person in the loop (B accepts on the SSE event)`,
        details: { rounds, p50Ms: l.p50, p99Ms: l.p99, arriveP50Ms: summarize(arrive).p50, acceptToReadableP50Ms: summarize(after).p50, floorP50Ms: f.p50 }
      }),
      ctx.result({
        name: 'group delete: purge rate (secure_delete, WAL truncated, keys shredded)', value: records / (purgeMs / 1000), unit: 'records/s',
        baseline: { name: 'raw better-sqlite3 DELETE of the same rows, secure_delete off', value: records / (rawMs / 1000), unit: 'records/s' },
        notes: `${fmtNum(records)} records (${fmtNum(purgeItems)} items of ~1 KiB and the group's descriptor): ${fmtNum(purgeMs)} ms vs ${fmtNum(rawMs)} ms; the purge includes its fixed costs (TRUNCATE checkpoint, vault rewrite for the shredded keys, audit entry)`,
        details: { records, purgeMs, rawMs }
      })
    ]
    return out
  }
}
