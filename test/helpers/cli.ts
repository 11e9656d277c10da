/**
 * Helpers that drive real cairn processes: `bin/cairn init`, `bin/cairn start`,
 * and the HTTP API of a started node. Every process started here is tracked and
 * killed by stopAll() (call it in an `after` hook).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { checkResponse } from './openapi-check.js'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin/cairn')
export const PASSPHRASE = 'test passphrase for cairn'

const tracked = new Set<ChildProcess>()
const dirs = new Set<string>()
// A test file that never calls stopAll (one that only opens stores, or whose
// in-process nodes it stops itself) still leaves nothing in /tmp when it exits.
process.once('exit', () => {
  if (process.env.TEST_KEEP_DIRS !== '1') for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

export function tempDir (prefix = 'cairn-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}

export interface CliResult { status: number, stdout: string, stderr: string, json: any }

/** Run a one-shot CLI command and wait for it. */
export function cli (args: string[], o: { env?: Record<string, string | undefined>, input?: string, timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, CAIRN_PASSPHRASE: undefined, ...o.env } as NodeJS.ProcessEnv,
    input: o.input ?? '',
    encoding: 'utf8',
    timeout: o.timeoutMs ?? 60_000
  })
  let json: any
  try { json = JSON.parse(r.stdout) } catch { json = undefined }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json }
}

export interface InitInfo { dataDir: string, entityId: string | null, peerId: string, personalGroupId: string | null }

export function initNodeDir (o: { keeper?: boolean, passphrase?: string, dataDir?: string } = {}): InitInfo {
  const dataDir = o.dataDir ?? tempDir()
  const r = cli(['--json', '--data-dir', dataDir, 'init', ...(o.keeper === true ? ['--keeper'] : [])], { env: { CAIRN_PASSPHRASE: o.keeper === true ? undefined : (o.passphrase ?? PASSPHRASE) } })
  if (r.status !== 0) throw new Error(`cairn init failed (${r.status}): ${r.stdout}${r.stderr}`)
  return { dataDir, entityId: r.json.entityId ?? null, peerId: r.json.peerId, personalGroupId: r.json.personalGroupId ?? null }
}

export interface ApiResponse { status: number, json: any, text: string, headers: Headers }

export class NodeProcess {
  constructor (readonly proc: ChildProcess, readonly dataDir: string, readonly apiPort: number, readonly token: string, readonly status: any) {}

  get baseUrl (): string { return `http://127.0.0.1:${this.apiPort}` }
  get peerId (): string { return this.status.peerId }
  get listenAddrs (): string[] { return this.status.listenAddrs }

  async api (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000)
    })
    const text = await res.text()
    checkResponse(method, path, res.status, res.headers.get('content-type'), text)
    let json: any
    try { json = JSON.parse(text) } catch { json = undefined }
    return { status: res.status, json, text, headers: res.headers }
  }

  /** Throwing variant: expects a 2xx and returns the JSON. */
  async ok (method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.api(method, path, body)
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} → ${r.status}: ${r.text}`)
    return r.json
  }

  cli (args: string[], env: Record<string, string | undefined> = {}): CliResult {
    return cli(['--data-dir', this.dataDir, ...args], { env })
  }

  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode
    const done = new Promise<number | null>(resolve => this.proc.once('exit', code => resolve(code)))
    this.proc.kill(signal)
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 15_000)
    const code = await done
    clearTimeout(t)
    tracked.delete(this.proc)
    return code
  }

  kill9 (): Promise<number | null> { return this.stop('SIGKILL') }
}

export interface StartOptions { keeper?: boolean, passphrase?: string | null, args?: string[], env?: Record<string, string | undefined>, listen?: string[], bootstrap?: string[] }

/** Start `cairn start` on a data dir and wait until its API answers. */
export async function startNode (dataDir: string, o: StartOptions = {}): Promise<NodeProcess> {
  const args = [BIN, '--json', '--data-dir', dataDir, 'start', '--api-port', '0',
    ...(o.keeper === true ? ['--keeper'] : []),
    '--listen', (o.listen ?? ['/ip4/127.0.0.1/tcp/0']).join(','),
    ...(o.bootstrap !== undefined && o.bootstrap.length > 0 ? ['--bootstrap', o.bootstrap.join(',')] : []),
    ...(o.args ?? [])]
  const passphrase = o.keeper === true || o.passphrase === null ? undefined : (o.passphrase ?? PASSPHRASE)
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, CAIRN_PASSPHRASE: passphrase, CAIRN_LOG_FILE: join(dataDir, 'cairn.log'), ...o.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  tracked.add(proc)
  let out = ''
  let err = ''
  proc.stderr!.on('data', d => { err += String(d) })
  const status = await new Promise<any>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node did not start within 30 s: ${err}`)), 30_000)
    proc.stdout!.on('data', d => {
      out += String(d)
      let j: any
      try { j = JSON.parse(out) } catch { return /* wait for the whole document */ }
      clearTimeout(t)
      // `--json` reports a failed start as {"error":{code,message}} on stdout
      if (j?.error !== undefined) reject(Object.assign(new Error(`cairn start failed: ${j.error.code}: ${j.error.message}`), { code: j.error.code }))
      else resolve(j)
    })
    proc.once('exit', code => { clearTimeout(t); reject(new Error(`cairn start exited with ${code}: ${out}${err}`)) })
  })
  const token = (await import('node:fs')).readFileSync(join(dataDir, 'api-token'), 'utf8').trim()
  return new NodeProcess(proc, dataDir, status.apiPort, token, status)
}

/** SIGKILL every process of the set that is still running, wait for each to exit, and empty the set. */
export async function killAll (ps: Set<ChildProcess>): Promise<void> {
  await Promise.all([...ps].map(async p => {
    if (p.exitCode !== null || p.signalCode !== null) return
    const done = new Promise(resolve => p.once('exit', resolve))
    p.kill('SIGKILL')
    await done
  }))
  ps.clear()
}

export async function stopAll (): Promise<void> {
  await killAll(tracked)
  // TEST_KEEP_DIRS=1 leaves the data dirs (and each node's cairn.log) for a post-mortem.
  if (process.env.TEST_KEEP_DIRS === '1') console.error(`kept test data dirs:\n${[...dirs].join('\n')}`)
  else for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}

/** Poll `fn` until it returns a truthy value; fail with `what` after `timeoutMs`. */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false && v !== null) return v
    } catch (e) { last = e }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`)
    await new Promise(r => setTimeout(r, everyMs))
  }
}
