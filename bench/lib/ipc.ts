/**
 * Request/response over a child process's IPC channel (fork-style `stdio: [..,
 * 'ipc']`), for the bench child processes (daemon-child.ts, gossip-child.ts).
 *
 *   harness → child   { id, cmd, ...args }
 *   child → harness   { id, ok: true, value } | { id, ok: false, error }
 *   child → harness   { event, ... }            (unsolicited: deliveries, counts)
 *
 * The child side is serveIpc(); the harness side is IpcClient. Nothing here is
 * part of cairn: it only lets the harness drive and observe its own processes.
 */
import type { ChildProcess } from 'node:child_process'

export type IpcHandler = (msg: Record<string, any>) => unknown
export type IpcEvent = Record<string, any> & { event: string }

export class IpcClient {
  private seq = 0
  private readonly pending = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  private readonly listeners = new Set<(e: IpcEvent) => void>()

  constructor (private readonly proc: ChildProcess, private readonly what: string) {
    proc.on('message', (m: any) => {
      if (m !== null && typeof m === 'object' && typeof m.event === 'string') {
        for (const l of this.listeners) l(m as IpcEvent)
        return
      }
      const p = this.pending.get(m?.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      if (m.ok === true) p.resolve(m.value)
      else p.reject(new Error(`${what}: ${String(m.error)}`))
    })
    proc.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${what} exited (${code ?? signal}) during a request`))
      this.pending.clear()
    })
  }

  /** Send a command; resolves with the child's value (rejects on its error, or after `timeoutMs`). */
  call<T = any> (cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    const id = ++this.seq
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => { this.pending.delete(id); reject(new Error(`${this.what}: ${cmd} got no answer in ${timeoutMs} ms`)) }, timeoutMs)
      this.pending.set(id, { resolve: v => { clearTimeout(t); resolve(v) }, reject: e => { clearTimeout(t); reject(e) } })
      try {
        this.proc.send({ id, cmd, ...args })
      } catch (e) {
        clearTimeout(t)
        this.pending.delete(id)
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    })
  }

  /** Send a command without waiting for an answer (the child answers only on failure). */
  cast (cmd: string, args: Record<string, unknown> = {}): void {
    this.proc.send({ id: 0, cmd, ...args })
  }

  on (fn: (e: IpcEvent) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }
}

/** Child side: answer commands with `handlers[cmd]` (sync or async). Returns false when there is no IPC channel. */
export function serveIpc (handlers: Record<string, IpcHandler>): boolean {
  if (process.send === undefined) return false
  process.on('message', (m: any) => {
    const id = m?.id
    const h = handlers[m?.cmd]
    const reply = (r: Record<string, unknown>): void => { if (id !== 0 || r.ok === false) process.send!({ id, ...r }) }
    if (h === undefined) { reply({ ok: false, error: `unknown command ${String(m?.cmd)}` }); return }
    let out: unknown
    try { out = h(m) } catch (e) { reply({ ok: false, error: e instanceof Error ? e.message : String(e) }); return }
    Promise.resolve(out).then(
      value => reply({ ok: true, value: value ?? null }),
      (e: unknown) => reply({ ok: false, error: e instanceof Error ? e.message : String(e) })
    )
  })
  return true
}

/** Send an unsolicited event to the harness (no-op without IPC). */
export function emitIpc (e: IpcEvent): void {
  process.send?.(e)
}
