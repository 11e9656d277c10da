/**
 * Real cairn nodes for benchmarks, in two forms:
 *
 *  openLocalServices(ctx)    the node's services (store, vault, groups, items,
 *                            jobs) in this process, no network and no HTTP: the
 *                            store path without transport costs
 *  startNodeProcess(ctx, …)  a Daemon in its own OS process (bench/lib/daemon-child.ts
 *                            compiled with the sources for this run by build.ts, under
 *                            plain node as `cairn start` runs dist/), reached over its
 *                            HTTP API and bench controls (IPC); stopped by the suite's cleanup
 *
 * Both work on data dirs made by initBenchNode (the real `initNode`: node key,
 * vault, personal group). Multi-node suites (replication, sync, catch-up,
 * circles) start several processes and pass `flags` (listen addresses,
 * bootstrap, keeper mode) exactly as `cairn start` flags would set them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { initNode, type InitResult } from '../../src/node/init.js'
import { loadConfig, type Overrides } from '../../src/config/load.js'
import { loadNodeKey } from '../../src/node/node-key.js'
import { dataPaths } from '../../src/node/paths.js'
import { buildServices, type Services } from '../../src/node/services.js'
import { silentLogger } from '../../src/util/logger.js'
import { ApiClient } from './http-client.js'
import { IpcClient } from './ipc.js'
import { supervise } from './child.js'
import { compiledModule, ensureBuild } from './build.js'
import { procMemory } from './bench-controls.js'
import type { SuiteContext } from './types.js'

export const BENCH_PASSPHRASE = 'cairn bench passphrase, not a secret'
const ROOT = resolve(import.meta.dirname, '../..')

/** `cairn init` into a fresh temp dir (removed after the suite). */
export async function initBenchNode (ctx: SuiteContext, o: { keeper?: boolean } = {}): Promise<InitResult> {
  const dataDir = ctx.tempDir(o.keeper === true ? 'cairn-bench-keeper-' : 'cairn-bench-node-')
  return initNode({ dataDir, keeper: o.keeper === true, ...(o.keeper === true ? {} : { passphrase: BENCH_PASSPHRASE }), env: {} })
}

/**
 * A node's local services, unlocked, in this process; closed by the suite's
 * cleanup. `compiled`: the services of this run's compiled sources (build.ts
 * compiledModule), whose worker threads start, instead of the TypeScript ones.
 */
export async function openLocalServices (ctx: SuiteContext, dataDir?: string, o: { compiled?: boolean } = {}): Promise<{ s: Services, dataDir: string, personalGroupId: string | null }> {
  const init = dataDir === undefined ? await initBenchNode(ctx) : undefined
  const dir = dataDir ?? init!.dataDir
  const config = loadConfig(dir, { env: {} })
  const build = o.compiled === true ? (await compiledModule<{ buildServices: typeof buildServices }>('node/services')).buildServices : buildServices
  const s = build(config, loadNodeKey(dataPaths(dir).nodeKey), silentLogger())
  ctx.defer(() => s.close())
  if (!s.keeper) await s.unlock(BENCH_PASSPHRASE)
  return { s, dataDir: dir, personalGroupId: init?.personalGroupId ?? s.vault?.personalGroupId() ?? null }
}

export interface NodeProcessHandle {
  proc: ChildProcess
  dataDir: string
  apiPort: number
  peerId: string
  token: string
  api: ApiClient
  /** The bench controls of the process (bench-controls.ts), over IPC. */
  ctl: IpcClient
  /** Its first libp2p listen address, with /p2p/<peerId>. */
  multiaddr: string
  /** VmRSS and VmHWM (peak) of the process, bytes, read from /proc. */
  memory: () => { rss: number, hwm: number } | undefined
  /** SIGTERM and wait (SIGKILL after 15 s). Idempotent. */
  stop: () => Promise<void>
}

export interface StartNodeOptions {
  keeper?: boolean
  /** Config overrides as `cairn start` flags would set them (merged over API port 0, loopback listen). */
  flags?: Overrides
  /** Sockets the API client may open (set ≥ your concurrency). */
  maxSockets?: number
  /** Environment for the child (CAIRN_* config variables). */
  env?: NodeJS.ProcessEnv
}

/** Start a Daemon in its own process on an initialised data dir; stopped by the suite's cleanup. */
export async function startNodeProcess (ctx: SuiteContext, dataDir: string, o: StartNodeOptions = {}): Promise<NodeProcessHandle> {
  const flags: Overrides = {
    ...o.flags,
    api: { port: 0, ...o.flags?.api },
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], ...o.flags?.network },
    ...(o.keeper === true ? { node: { keeper: true, ...o.flags?.node } } : {})
  }
  const proc = spawn(process.execPath, [ensureBuild(), dataDir, JSON.stringify(flags)], {
    cwd: ROOT,
    env: { ...process.env, ...o.env, CAIRN_PASSPHRASE: undefined, CAIRN_BENCH_PASSPHRASE: o.keeper === true ? '' : BENCH_PASSPHRASE } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced'
  })
  // Kept dirs keep the process's stderr too (libp2p's DEBUG=… output goes there).
  if (process.env.CAIRN_BENCH_KEEP_DIRS === '1') proc.stderr!.pipe(createWriteStream(join(dataDir, 'stderr.log')))
  const ctl = new IpcClient(proc, `node process ${dataDir}`)
  const { stop, firstLine } = supervise(ctx, proc, 'node process', 15_000)
  const line = await firstLine
  let info: { apiPort: number, peerId: string }
  try { info = JSON.parse(line) } catch (e) { throw new Error(`node process printed ${line.slice(0, 200)}: ${String(e)}`) }
  const token = readFileSync(dataPaths(dataDir).apiToken, 'utf8').trim()
  const api = new ApiClient(info.apiPort, token, { maxSockets: o.maxSockets ?? 64 })
  ctx.defer(() => api.close())
  const addrs = await ctl.call<string[]>('multiaddrs')
  const addr = addrs.find(a => a.includes('/tcp/')) ?? addrs[0] ?? ''
  const multiaddr = addr.includes('/p2p/') ? addr : `${addr}/p2p/${info.peerId}`
  return { proc, dataDir, apiPort: info.apiPort, peerId: info.peerId, token, api, ctl, multiaddr, memory: () => procMemory(proc.pid!), stop }
}
