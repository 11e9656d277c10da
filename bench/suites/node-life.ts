/**
 * node-life: the long-lived node (SPEC §4 "A long-lived node keeps its
 * network"), in real processes on loopback.
 *
 *  1  add-keeper → adopted: a group on agent A, POST …/keepers {peerId,
 *     multiaddr} of a keeper A is not connected to (a fresh keeper process per
 *     sample), harness clock from the request until the keeper has stored the
 *     group's descriptor (bench-controls `watch`, kind desc: the moment it
 *     adopted the group). SPEC ratio goal: ≤ 1 s.
 *     baseline: one raw libp2p dial of the same keeper from a bare libp2p node
 *     in the harness process (TCP + Noise + Yamux handshake) plus one
 *     request/response on a fresh stream (bench echo protocol), then hang up;
 *     alternated with the samples — the physical floor of "reach a new peer and
 *     hand it something".
 *  2  restart → a write on both keepers: A (keepers K1, K2 of its personal
 *     group) is stopped (SIGTERM) and started again with no --bootstrap; harness
 *     clock from the spawn until an item POSTed as soon as A's API answers is
 *     stored on both keepers — the address book's redial plus the reconnect's
 *     anti-entropy (the push went to nobody).
 *     baseline: the same restarts' spawn → API answering (start-up alone, the
 *     floor of any restart). Details: the same after SIGKILL, and a write while
 *     connected (push) for comparison.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { Channel } from '../../src/replication/channel.js'
import type { BenchResult, Suite, SuiteContext } from '../lib/types.js'
import { median, msSince, now, summarize } from '../lib/timing.js'
import { initBenchNode, startNodeProcess, type NodeProcessHandle } from '../lib/node.js'
import { addKeeper, until, watchStored } from '../lib/cluster.js'
import { ECHO_PROTOCOL } from '../lib/bench-controls.js'
import { fmtNum } from '../lib/format.js'

async function rawNode (ctx: SuiteContext): Promise<CairnLibp2p> {
  const n = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false, inboundPerSecond: 1000, maxConnections: 50, maxRecordBytes: 1 << 20, privateAddresses: true })
  ctx.defer(() => n.stop())
  return n
}

/** Dial a peer afresh, one echo round trip on a new stream, hang up: ms. */
async function dialAndEcho (raw: CairnLibp2p, addr: string): Promise<number> {
  const t = now()
  const conn = await raw.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
  const stream = await conn.newStream(ECHO_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const ch = new Channel(stream, 4096, 10_000)
  await ch.send({ p: new Uint8Array(randomBytes(200)) })
  await ch.recv()
  const ms = msSince(t)
  ch.closeSoon()
  await raw.hangUp(conn.remotePeer)
  return ms
}

async function addKeeperSamples (ctx: SuiteContext, A: NodeProcessHandle, samples: number): Promise<BenchResult> {
  const raw = await rawNode(ctx)
  const adopt: number[] = []
  const floor: number[] = []
  for (let i = 0; i < samples; i++) {
    const k = await initBenchNode(ctx, { keeper: true })
    const K = await startNodeProcess(ctx, k.dataDir, { keeper: true })
    await K.ctl.call('protocols')
    const g = await A.api.ok('POST', '/api/v1/groups', { name: `adopt ${i}` }) as { id: string }
    const measureAdopt = async (): Promise<void> => {
      const w = await watchStored(K, g.id, 1, 'desc')
      const t = now()
      await A.api.ok('POST', `/api/v1/groups/${g.id}/keepers`, { peerId: K.peerId, multiaddr: K.multiaddr })
      const { at } = await w.done
      adopt.push(Number(at - t) / 1e6)
    }
    // Alternate which comes first: drift in load hits both alike.
    if (i % 2 === 0) { floor.push(await dialAndEcho(raw, K.multiaddr)); await measureAdopt() } else { await measureAdopt(); floor.push(await dialAndEcho(raw, K.multiaddr)) }
    await K.stop()
  }
  const a = summarize(adopt)
  const f = summarize(floor)
  ctx.log(`add-keeper → adopted p50 ${fmtNum(a.p50)} ms (max ${fmtNum(a.max)}); raw dial + round trip p50 ${fmtNum(f.p50)} ms`)
  return ctx.result({
    name: 'add-keeper → adopted (keeper not yet connected), p50',
    value: a.p50, unit: 'ms',
    baseline: { name: 'raw libp2p dial + one stream round trip to the same keeper, p50', value: f.p50, unit: 'ms' },
    target: { op: '<=', value: 1000 },
    notes: `${a.n} samples, a fresh keeper process each; from POST …/keepers to the keeper storing the descriptor; max ${fmtNum(a.max)} ms`,
    details: { n: a.n, mean: a.mean, max: a.max, floorMax: f.max, samples: adopt.map(x => Math.round(x)).join(' ') }
  })
}

async function restartSamples (ctx: SuiteContext, samples: number): Promise<BenchResult> {
  const [a, k1, k2] = await Promise.all([initBenchNode(ctx), initBenchNode(ctx, { keeper: true }), initBenchNode(ctx, { keeper: true })])
  const [K1, K2] = await Promise.all([startNodeProcess(ctx, k1.dataDir, { keeper: true }), startNodeProcess(ctx, k2.dataDir, { keeper: true })])
  let A = await startNodeProcess(ctx, a.dataDir)
  const P = a.personalGroupId!
  await addKeeper(A, P, K1)
  await addKeeper(A, P, K2)
  const bothConnected = async (n: NodeProcessHandle): Promise<boolean> => {
    const { peers } = await n.api.ok('GET', `/api/v1/groups/${P}/replication`) as { peers: Array<{ connected: boolean, behind: number }> }
    return peers.length === 2 && peers.every(p => p.connected)
  }
  await until('A connected to both keepers', async () => await bothConnected(A), 30_000, 50)
  const total: number[] = []
  const startup: number[] = []
  const afterKill: number[] = []
  const warm: number[] = []
  const write = async (n: NodeProcessHandle, label: string): Promise<bigint> => {
    const w1 = await watchStored(K1, P, 1)
    const w2 = await watchStored(K2, P, 1)
    await n.api.ok('POST', `/api/v1/groups/${P}/items`, { content: label, type: 'note' })
    const [d1, d2] = await Promise.all([w1.done, w2.done])
    return d1.at > d2.at ? d1.at : d2.at
  }
  for (let i = 0; i < samples * 2; i++) {
    const kill = i % 2 === 1
    if (kill) A.proc.kill('SIGKILL')
    await A.stop()
    const w1 = await watchStored(K1, P, 1)
    const w2 = await watchStored(K2, P, 1)
    const t = now()
    A = await startNodeProcess(ctx, a.dataDir)
    const up = msSince(t)
    await A.api.ok('POST', `/api/v1/groups/${P}/items`, { content: `after restart ${i}`, type: 'note' })
    const [d1, d2] = await Promise.all([w1.done, w2.done])
    const ms = Number((d1.at > d2.at ? d1.at : d2.at) - t) / 1e6
    if (kill) afterKill.push(ms)
    else { total.push(ms); startup.push(up) }
    await until('A connected to both keepers again', async () => await bothConnected(A), 30_000, 50)
    const tw = now()
    warm.push(Number(await write(A, `warm ${i}`) - tw) / 1e6)
  }
  const v = summarize(total)
  const s = summarize(startup)
  ctx.log(`restart → write on both keepers p50 ${fmtNum(v.p50)} ms (after SIGKILL ${fmtNum(median(afterKill))} ms); start-up alone ${fmtNum(s.p50)} ms; warm write ${fmtNum(median(warm))} ms`)
  return ctx.result({
    name: 'restart (SIGTERM, no --bootstrap) → a write stored on both keepers, p50',
    value: v.p50, unit: 'ms',
    baseline: { name: 'the same restarts: spawn → API answering (start-up alone), p50', value: s.p50, unit: 'ms' },
    notes: `${v.n} restarts after SIGTERM and ${afterKill.length} after SIGKILL (p50 ${fmtNum(median(afterKill))} ms); the item is POSTed as soon as the API answers, before the keepers are reconnected, so it arrives by the reconnect's anti-entropy; a write while connected (push) took p50 ${fmtNum(median(warm))} ms`,
    details: { n: v.n, max: v.max, afterKillP50: median(afterKill), warmWriteP50: median(warm), reconnectOverheadP50: v.p50 - s.p50 }
  })
}

export const nodeLifeSuite: Suite = {
  name: 'node-life',
  description: 'add-keeper → adopted vs a raw libp2p dial + round trip; restart (no --bootstrap) → a write on both keepers vs start-up alone',
  async run (ctx) {
    const a = await initBenchNode(ctx)
    const A = await startNodeProcess(ctx, a.dataDir)
    const r1 = await addKeeperSamples(ctx, A, ctx.quick ? 1 : 8)
    await A.stop()
    const r2 = await restartSamples(ctx, ctx.quick ? 1 : 5)
    return [r1, r2]
  }
}
