/**
 * Background jobs (key rotation re-encryption, circle re-splits) with progress
 * that survives restarts: state lives in the `jobs` table, and unfinished jobs
 * resume when their handler is registered again (at unlock).
 * One job runs per group at a time; work yields to the event loop between batches.
 */
import type { GroupId } from '../crypto/ids.js'
import { randomUUID } from 'node:crypto'
import type { JobRow, Store } from '../store/store.js'
import { errorMessage } from '../util/errors.js'

export type JobState = 'queued' | 'running' | 'done' | 'failed'

export interface JobHandle {
  readonly id: string
  readonly gid: GroupId
  readonly params: Record<string, unknown>
  readonly signal: AbortSignal
  /** Work already done before a restart (0 on a first run): totals count it too. */
  readonly resumedFrom: number
  setTotal: (n: number) => void
  progress: (done: number) => void
}

export type JobFn = (h: JobHandle) => Promise<void>

export interface JobView { id: string, kind: string, groupId: GroupId, state: JobState, done: number, total: number, error?: string, createdAt: string, updatedAt: string }

export class JobRunner {
  private readonly handlers = new Map<string, JobFn>()
  private readonly running = new Map<string, Promise<void>>()
  private readonly chains = new Map<string, Promise<void>>()
  private abort = new AbortController()
  private readonly listeners: Array<(j: JobView) => void> = []

  constructor (private readonly store: Store<GroupId>) {}

  register (kind: string, fn: JobFn): void { this.handlers.set(kind, fn) }

  submit (kind: string, gid: GroupId, params: Record<string, unknown> = {}): JobView {
    const now = Date.now()
    const row: JobRow<GroupId> = { id: randomUUID(), kind, gid, state: 'queued', done: 0, total: 0, params: JSON.stringify(params), error: null, created: now, updated: now }
    this.store.putJob(row)
    this.schedule(row)
    return view(row)
  }

  get (id: string): JobView | undefined {
    const r = this.store.getJob(id)
    return r === undefined ? undefined : view(r)
  }

  /** Restart queued/running jobs whose kind has a handler (after a restart or unlock). */
  resume (): void {
    for (const row of this.store.unfinishedJobs()) if (!this.running.has(row.id) && this.handlers.has(row.kind)) this.schedule(row)
  }

  onUpdate (fn: (j: JobView) => void): void { this.listeners.push(fn) }

  /** Wait for a job to finish (tests, CLI). */
  async settle (id: string): Promise<JobView | undefined> {
    await this.running.get(id)
    return this.get(id)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    await Promise.allSettled([...this.running.values()])
    this.abort = new AbortController()
  }

  private schedule (row: JobRow<GroupId>): void {
    const prev = this.chains.get(row.gid) ?? Promise.resolve()
    const p = prev.then(async () => { await this.run(row) })
    this.chains.set(row.gid, p)
    this.running.set(row.id, p)
    void p.finally(() => {
      this.running.delete(row.id)
      if (this.chains.get(row.gid) === p) this.chains.delete(row.gid)
    })
  }

  private async run (row: JobRow<GroupId>): Promise<void> {
    const fn = this.handlers.get(row.kind)
    const signal = this.abort.signal
    const update = (patch: Partial<JobRow<GroupId>>): void => {
      Object.assign(row, patch, { updated: Date.now() })
      this.store.putJob(row)
      const v = view(row)
      for (const l of this.listeners) l(v)
    }
    if (fn === undefined) { update({ state: 'failed', error: `no handler for job kind ${row.kind}` }); return }
    update({ state: 'running' })
    let lastWrite = 0
    const handle: JobHandle = {
      id: row.id,
      gid: row.gid,
      params: JSON.parse(row.params) as Record<string, unknown>,
      signal,
      resumedFrom: row.done,
      setTotal: n => update({ total: n }),
      progress: done => {
        row.done = done
        const now = Date.now()
        if (now - lastWrite > 100) { lastWrite = now; update({ done }) }
      }
    }
    try {
      await fn(handle)
      update({ state: 'done', done: Math.max(row.done, row.total) })
    } catch (e) {
      // A stop (shutdown, lock) leaves the job queued so it resumes later.
      if (signal.aborted) update({ state: 'queued' })
      else update({ state: 'failed', error: errorMessage(e) })
    }
  }
}

function view (r: JobRow<GroupId>): JobView {
  return {
    id: r.id, kind: r.kind, groupId: r.gid, state: r.state as JobState, done: r.done, total: r.total,
    ...(r.error !== null ? { error: r.error } : {}),
    createdAt: new Date(r.created).toISOString(), updatedAt: new Date(r.updated).toISOString()
  }
}
