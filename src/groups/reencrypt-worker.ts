/**
 * Worker thread of a rotation's re-encryption (reencrypt-thread.ts): one step
 * at a time, reencryptStep over the step's records, then its copies of the
 * step's group keys are zeroed.
 *
 * In:  { id, ...StepInput }
 * Out: { id, ...StepResult }
 */
import { parentPort } from 'node:worker_threads'
import { reencryptStep, type StepInput } from './reencrypt-thread.js'

parentPort?.on('message', (m: { id: number } & StepInput) => {
  const res = reencryptStep(m)
  for (const [, k] of m.keys) k.fill(0)
  m.key.fill(0)
  parentPort!.postMessage({ id: m.id, ...res })
})
