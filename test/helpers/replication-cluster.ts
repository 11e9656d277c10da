/**
 * Several real cairn processes on one machine for the replication tests:
 * parallel `cairn init`, `cairn start` on the host or inside a network namespace
 * (replication-netns.ts), and readers for what the tests compare — raw listings
 * paged to the end, decrypted listings, Prometheus counters.
 *
 * A node inside a namespace serves its HTTP API on the namespace's own loopback
 * (api.host must be loopback), so a tiny forwarder inside the namespace exposes
 * it on a unix socket, which every namespace shares. Every process started here
 * is killed by stopCluster().
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { BIN, NodeProcess, initNodeDir, killAll, PASSPHRASE, startNode, tempDir, waitFor, type ApiResponse, type InitInfo } from './cli.js'
import type { NetnsLink } from './replication-netns.js'

const procs = new Set<ChildProcess>()
// Last resort if the test process ends without stopCluster(): no daemon outlives it.
process.once('exit', () => { for (const p of procs) p.kill('SIGKILL') })

function track (p: ChildProcess): ChildProcess {
  procs.add(p)
  p.once('exit', () => procs.delete(p))
  return p
}

/** Collect a child's stdout until `done` accepts it; reject on exit or timeout. */
function readUntil<T> (p: ChildProcess, what: string, done: (out: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
  let out = ''
  let err = ''
  p.stderr?.on('data', d => { err += String(d) })
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms: ${out}${err}`)), timeoutMs)
    p.stdout!.on('data', d => {
      out += String(d)
      const v = done(out)
      if (v !== undefined) { clearTimeout(t); resolve(v) }
    })
    p.once('exit', code => { clearTimeout(t); reject(new Error(`${what}: exited with ${code}: ${out}${err}`)) })
  })
}

const parseJson = (s: string): any => { try { return JSON.parse(s) } catch { return undefined } }

/** `cairn init` without blocking the event loop, so several run at once. */
export async function initAsync (o: { keeper?: boolean, passphrase?: string } = {}): Promise<InitInfo> {
  const dataDir = tempDir('cairn-repl-')
  const p = track(spawn(process.execPath, [BIN, '--json', '--data-dir', dataDir, 'init', ...(o.keeper === true ? ['--keeper'] : [])], {
    env: { ...process.env, CAIRN_PASSPHRASE: o.keeper === true ? undefined : (o.passphrase ?? PASSPHRASE) } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  }))
  let out = ''
  let err = ''
  p.stdout!.on('data', d => { out += String(d) })
  p.stderr!.on('data', d => { err += String(d) })
  const code = await new Promise<number | null>(resolve => p.once('exit', resolve))
  const j = parseJson(out)
  if (code !== 0 || j === undefined) throw new Error(`cairn init failed (${code}): ${out}${err}`)
  return { dataDir, entityId: j.entityId ?? null, peerId: j.peerId, personalGroupId: j.personalGroupId ?? null }
}

/** A started node: NodeProcess, reached over a unix socket when it runs in a namespace. */
export class ClusterNode extends NodeProcess {
  name = ''
  socketPath: string | undefined
  forwarder: ChildProcess | undefined
  startOptions: LaunchOptions | undefined

  override async api (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    if (this.socketPath === undefined) return await super.api(method, path, body, headers)
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    return await new Promise<ApiResponse>((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath, path, method, agent: false,
        headers: { host: '127.0.0.1', authorization: `Bearer ${this.token}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', c => chunks.push(c as Buffer))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          const h = new Headers()
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v)
          resolve({ status: res.statusCode ?? 0, json: parseJson(text), text, headers: h })
        })
        res.on('error', reject)
      })
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)))
      req.on('error', reject)
      if (payload !== undefined) req.write(payload)
      req.end()
    })
  }

  override async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const code = await super.stop(signal)
    if (this.forwarder !== undefined && this.forwarder.exitCode === null && this.forwarder.signalCode === null) {
      const done = new Promise(resolve => this.forwarder!.once('exit', resolve))
      this.forwarder.kill('SIGKILL')
      await done
    }
    return code
  }

  /** The first listen address (with /p2p/<peerId>). */
  get addr (): string { return this.listenAddrs[0]! }

  async metrics (): Promise<string> {
    const r = await this.api('GET', '/metrics')
    if (r.status !== 200) throw new Error(`GET /metrics → ${r.status}: ${r.text.slice(0, 200)}`)
    return r.text
  }

  /** Sum of a counter's samples whose labels include `labels`. */
  async counter (name: string, labels: Record<string, string> = {}): Promise<number> {
    return counterIn(await this.metrics(), name, labels)
  }

  /** Every raw envelope of a group, paging with nextCursor. */
  async rawAll (gid: string): Promise<any[]> {
    const out: any[] = []
    let cursor: string | null = null
    do {
      const page: any = await this.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      out.push(...page.items)
      cursor = page.nextCursor
    } while (cursor !== null)
    return out
  }

  /** Every decrypted item of a group, paging with nextCursor. */
  async itemsAll (gid: string): Promise<any[]> {
    const out: any[] = []
    let cursor: string | null = null
    do {
      const page: any = await this.ok('GET', `/api/v1/groups/${gid}/items?limit=1000${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      out.push(...page.items)
      cursor = page.nextCursor
    } while (cursor !== null)
    return out
  }

  /** id → record hash of every raw envelope (items and tombstones). */
  async hashes (gid: string): Promise<Map<string, string>> {
    return new Map((await this.rawAll(gid)).map(r => [r.id as string, r.hash as string]))
  }
}

export function counterIn (text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(x => [x[1]!, x[2]!]))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3])
  }
  return sum
}

export interface LaunchOptions {
  name: string
  keeper?: boolean
  passphrase?: string
  listen: string[]
  bootstrap?: string[]
  env?: Record<string, string | undefined>
  netns?: NetnsLink
}

const FORWARDER = `const net = require('node:net'); const [sock, port] = process.argv.slice(1);
net.createServer(c => { const u = net.connect(Number(port), '127.0.0.1'); c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy()) }).listen(sock, () => console.log('ready'))`

/** `cairn start` (in a namespace when o.netns is given); resolves when its API answers. */
export async function launch (dataDir: string, o: LaunchOptions): Promise<ClusterNode> {
  const args = [BIN, '--json', '--data-dir', dataDir, 'start', '--api-port', '0',
    ...(o.keeper === true ? ['--keeper'] : []),
    '--listen', o.listen.join(','),
    ...(o.bootstrap !== undefined && o.bootstrap.length > 0 ? ['--bootstrap', o.bootstrap.join(',')] : [])]
  const argv = o.netns !== undefined ? o.netns.exec(process.execPath, args) : { cmd: process.execPath, args }
  const proc = track(spawn(argv.cmd, argv.args, {
    env: { ...process.env, CAIRN_PASSPHRASE: o.keeper === true ? undefined : (o.passphrase ?? PASSPHRASE), CAIRN_LOG_FILE: join(dataDir, 'cairn.log'), ...o.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  }))
  const status = await readUntil(proc, `${o.name} start`, parseJson, 60_000)
  const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim()
  const node = new ClusterNode(proc, dataDir, status.apiPort, token, status)
  node.name = o.name
  node.startOptions = o
  if (o.netns !== undefined) {
    node.socketPath = join(tempDir('cairn-sock-'), 'api.sock')
    const fw = o.netns.exec(process.execPath, ['-e', FORWARDER, node.socketPath, String(status.apiPort)])
    node.forwarder = track(spawn(fw.cmd, fw.args, { stdio: ['ignore', 'pipe', 'pipe'] }))
    await readUntil(node.forwarder, `${o.name} API forwarder`, out => out.includes('ready') ? true : undefined, 10_000)
  }
  await waitFor(`${o.name} health`, async () => (await node.api('GET', '/api/v1/health')).status === 200, 10_000)
  return node
}

/** Start a stopped node again on the same data dir and listen addresses. */
export async function relaunch (n: ClusterNode, changes: Partial<LaunchOptions> = {}): Promise<ClusterNode> {
  const o = { ...n.startOptions!, ...changes }
  return await launch(n.dataDir, o)
}

/** The same listen address a node ended up with (port fixed), for a restart that keeps it. */
export function fixedListen (n: ClusterNode): string[] {
  return n.listenAddrs.map(a => a.replace(/\/p2p\/.*$/, ''))
}

export async function stopCluster (): Promise<void> { await killAll(procs) }

/** Member A and keeper K, each its own process, and a group P on A (K not added yet). */
export async function memberAndKeeper (groupName: string): Promise<{ A: NodeProcess, K: NodeProcess, P: string }> {
  const [A, K] = await Promise.all([startNode(initNodeDir().dataDir), startNode(initNodeDir({ keeper: true }).dataDir, { keeper: true })])
  const P = (await A.ok('POST', '/api/v1/groups', { name: groupName })).id as string
  return { A, K, P }
}
