/**
 * Supervision shared by the harness's child processes (node and gossip
 * processes): the tail of stderr kept for error messages, a stop() that sends
 * SIGTERM and SIGKILLs after a grace period (registered with the suite's
 * cleanup, idempotent), and the child's first stdout line, which each child
 * prints once it is ready.
 */
import type { ChildProcess } from 'node:child_process'
import type { SuiteContext } from './types.js'

export interface Supervised {
  stop: () => Promise<void>
  /** The first line the child prints; rejects if it exits first or stays silent for START_MS. */
  firstLine: Promise<string>
}

/**
 * How long a child may take to print its ready line. 60 s was too short on a
 * 2-core box at load 8–13 (2026-12-01: sync, catchup and scale-keeper failed
 * there with nodes that did start); a child silent for 3 minutes is hung.
 */
const START_MS = 180_000

export function supervise (ctx: SuiteContext, proc: ChildProcess, what: string, killAfterMs: number): Supervised {
  let stderr = ''
  proc.stderr!.on('data', d => { stderr = (stderr + String(d)).slice(-4000) })
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    const t = setTimeout(() => proc.kill('SIGKILL'), killAfterMs)
    await exited
    clearTimeout(t)
  }
  ctx.defer(stop)
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = ''
    const t = setTimeout(() => reject(new Error(`${what} did not start within ${START_MS / 1000} s: ${stderr}`)), START_MS)
    proc.stdout!.on('data', d => {
      out += String(d)
      const nl = out.indexOf('\n')
      if (nl < 0) return
      clearTimeout(t)
      resolve(out.slice(0, nl))
    })
    proc.once('exit', code => { clearTimeout(t); reject(new Error(`${what} exited with ${code}: ${stderr}`)) })
  })
  return { stop, firstLine }
}
