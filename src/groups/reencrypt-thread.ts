/**
 * A rotation's re-encryption, its work per record on a worker thread
 * (reencrypt-worker.ts) while the job stores the step before it (reencrypt.ts):
 * each record read back from the store is decoded, decrypted under its old key,
 * sealed under the new one, encoded as it will be signed and hashed into its
 * batch's leaf. That was ~40% of the job's main-thread time; the other 60%
 * (storing, one signature per step) stays on the main thread, which now does
 * nothing else. The entity's signing key never leaves the main thread: the
 * worker gets the signer's public key, and the main thread signs each step's
 * root (records/envelope.ts sealBatch).
 *
 * The group keys of a step go to the worker with the step (a copy inside this
 * process, never on disk or wire); the worker zeroes its copies when the step
 * is done, and the thread ends with the job.
 *
 * Under TypeScript sources (tests under tsx) there is no compiled worker
 * module to load, and a worker that fails or dies leaves its step to this
 * thread: reencryptStep is the same work inline, and every step settles.
 */
import { Worker } from 'node:worker_threads'
import { batchLeaves, fromStore, type BatchLeaves, type Unsigned } from '../records/record.js'
import { reencryptUnsigned, type ItemBody } from '../records/item.js'
import { CairnError, type ErrorCode } from '../util/errors.js'

export interface StepInput {
  /** The stale items as stored (bytes and hash), all of one group. */
  rows: Array<{ bytes: Uint8Array, hash: Uint8Array }>
  /** The key of every key version the rows are under. */
  keys: Array<[number, Uint8Array]>
  kv: number
  key: Uint8Array
  /** The re-encrypting entity's public key (the records' signer). */
  signer: Uint8Array
}

export type StepResult = { ok: true, us: Array<Unsigned<ItemBody>>, leaves: BatchLeaves } | { ok: false, code: ErrorCode, message: string }

/** One step's work on this thread (the worker runs the same function). */
export function reencryptStep (inp: StepInput): StepResult {
  try {
    const keys = new Map(inp.keys)
    const keyOf = (v: number): Uint8Array => {
      const k = keys.get(v)
      if (k === undefined) throw new CairnError('INTEGRITY', `no key for key version ${v}`)
      return k
    }
    const us = reencryptUnsigned(inp.rows.map(r => fromStore(r, 'item')), keyOf, inp.signer, inp.kv, inp.key)
    return { ok: true, us, leaves: batchLeaves(inp.signer, us) }
  } catch (e) {
    return { ok: false, code: e instanceof CairnError ? e.code : 'INTEGRITY', message: (e as Error).message }
  }
}

/** A worker's V8 limits: a step is ~1,000 records; without a cap its young generation grows to V8's default and stays resident. */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 16 }

interface Pending { inp: StepInput, resolve: (r: StepResult) => void }

/** One worker thread for one job; steps are answered in order. */
export class ReencryptThread {
  private w: Worker | undefined
  private broken = !import.meta.url.endsWith('.js')
  private seq = 0
  private readonly pending = new Map<number, Pending>()

  /** `onFallback`: the worker failed (it could not start, or died); its steps go on on this thread. */
  constructor (private readonly onFallback?: (why: string) => void) {}

  /** Is a worker thread doing the steps (false before the first, and once they fell back to this thread)? */
  get threaded (): boolean { return this.w !== undefined }

  /** Never rejects: a failed step is `ok: false`, with the reason. */
  async run (inp: StepInput): Promise<StepResult> {
    const w = this.worker()
    if (w === undefined) return reencryptStep(inp)
    const id = ++this.seq
    const res = new Promise<StepResult>(resolve => this.pending.set(id, { inp, resolve }))
    w.postMessage({ id, ...inp })
    return await res
  }

  private worker (): Worker | undefined {
    if (this.broken) return undefined
    if (this.w !== undefined) return this.w
    try {
      // No execArgv of ours: loader hooks (tsx) would not reach the thread, and it would not start.
      const w = new Worker(new URL('./reencrypt-worker.js', import.meta.url), { resourceLimits: WORKER_LIMITS, execArgv: [] })
      w.unref()
      w.on('message', (m: { id: number } & StepResult) => {
        const p = this.pending.get(m.id)
        this.pending.delete(m.id)
        p?.resolve(m)
      })
      w.on('error', e => { this.fail(e.message) })
      w.on('exit', code => { if (this.w === w) this.fail(`it exited (code ${code})`) })
      this.w = w
      return w
    } catch (e) {
      this.fail((e as Error).message)
      return undefined
    }
  }

  /** The worker failed: its outstanding steps are done here, and the later ones too. */
  private fail (why: string): void {
    if (this.broken) return
    this.onFallback?.(why)
    this.broken = true
    const w = this.w
    this.w = undefined
    void w?.terminate()
    for (const [id, p] of this.pending) { this.pending.delete(id); p.resolve(reencryptStep(p.inp)) }
  }

  /** Ends the thread; a step still outstanding settles as stopped. */
  async close (): Promise<void> {
    const w = this.w
    this.w = undefined
    this.broken = true
    for (const [id, p] of this.pending) { this.pending.delete(id); p.resolve({ ok: false, code: 'UNAVAILABLE', message: 'stopped' }) }
    await w?.terminate()
  }
}
