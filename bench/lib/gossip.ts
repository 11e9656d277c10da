/**
 * The raw gossipsub baseline, harness side: processes running gossip-child.ts
 * (cairn's createNetwork, nothing above it) and a delivery tracker that times
 * publish → delivered on every subscriber with the harness clock, the way the
 * replication suite times write → stored on every keeper.
 */
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { IpcClient } from './ipc.js'
import { supervise } from './child.js'
import { procMemory } from './bench-controls.js'
import type { SuiteContext } from './types.js'

const ROOT = resolve(import.meta.dirname, '../..')
const CHILD = join(ROOT, 'bench/lib/gossip-child.ts')

export interface GossipProcess {
  pid: number
  peerId: string
  multiaddr: string
  ctl: IpcClient
  memory: () => { rss: number, hwm: number } | undefined
  stop: () => Promise<void>
}

export async function startGossipProcess (ctx: SuiteContext): Promise<GossipProcess> {
  // The harness pid on the command line lets a test find leftovers of one run.
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, `--harness=${process.pid}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' })
  const ctl = new IpcClient(proc, 'gossip process')
  const { stop, firstLine } = supervise(ctx, proc, 'gossip process', 10_000)
  await firstLine
  const info = await ctl.call<{ peerId: string, multiaddr: string }>('info')
  return { pid: proc.pid!, peerId: info.peerId, multiaddr: info.multiaddr, ctl, memory: () => procMemory(proc.pid!), stop }
}

/**
 * Resolves a promise per key once every one of `n` sources has reported it;
 * reports that arrive before anyone waits are kept (a fast delivery can beat
 * the publisher's own acknowledgement). The time is the harness clock at the
 * last report.
 */
export class Arrivals<K> {
  private readonly seen = new Map<K, { mask: number, count: number, at: bigint }>()
  private readonly waiting = new Map<K, (at: bigint) => void>()
  /** Reports of keys nobody waits for any more (late duplicates are ignored). */
  stray = 0

  constructor (private readonly n: number) {}

  /** Source number `source` (0 … n-1) has `key`, at harness time `at`. */
  report (key: K, source: number, at: bigint): void {
    if (this.done.has(key)) { this.stray++; return }
    const s = this.seen.get(key) ?? { mask: 0, count: 0, at }
    if ((s.mask & (1 << source)) !== 0) { this.stray++; return }
    s.mask |= 1 << source
    s.count++
    s.at = at
    if (s.count < this.n) { this.seen.set(key, s); return }
    this.seen.delete(key)
    const w = this.waiting.get(key)
    if (w !== undefined) { this.waiting.delete(key); this.finish(key); w(at) } else this.early.set(key, at)
  }

  private readonly early = new Map<K, bigint>()
  private readonly done = new Set<K>()
  private finish (key: K): void { this.done.add(key); if (this.done.size > 200_000) this.done.clear() }

  /** When every source has reported `key` (harness clock); rejects after `timeoutMs`. */
  wait (key: K, timeoutMs: number): Promise<bigint> {
    const e = this.early.get(key)
    if (e !== undefined) { this.early.delete(key); this.finish(key); return Promise.resolve(e) }
    return new Promise<bigint>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(key)
        const got = this.seen.get(key)?.count ?? 0
        reject(new Error(`${String(key)}: reported by ${got} of ${this.n} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(key, at => { clearTimeout(t); resolve(at) })
    })
  }

  /** Keys still partly reported (for diagnostics). */
  get partial (): number { return this.seen.size }
}
