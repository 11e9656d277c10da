/**
 * Worker thread of the sync verifier (verifier.ts): checks a slice of a batch
 * of received record bytes with records/record.ts checkRecord (decode, body
 * by kind, signature — a batch-signed record's root once per worker, records/batch.ts —
 * and hash), one call per record, and returns what it found.
 *
 * In:  { id, buf: SharedArrayBuffer, offs: Uint32Array, maxBytes } — record k is buf[offs[k], offs[k+1])
 * Out: { id, out: Array<CheckedFields minus its hash | DecodeFailure>, hashes: Uint8Array (32 B per record) }
 * In:  { id, heap: true } → Out: { id, heap: v8.getHeapStatistics(), ed25519 } (memory figures: Node 20's Worker has no
 *      getHeapStatistics; and which Ed25519 this thread verifies with, crypto/sign.ts)
 */
import { parentPort } from 'node:worker_threads'
import { getHeapStatistics } from 'node:v8'
import { checkRecord, type CheckedFields, type DecodeFailure } from '../records/record.js'
import { ed25519Impl } from '../crypto/sign.js'

interface Job { id: number, buf: SharedArrayBuffer, offs: Uint32Array, maxBytes: number }
interface HeapAsk { id: number, heap: true }

export type WorkerCheck = Omit<CheckedFields, 'hash'> | DecodeFailure

parentPort?.on('message', (j: Job | HeapAsk) => {
  if ('heap' in j) { parentPort!.postMessage({ id: j.id, heap: getHeapStatistics(), ed25519: ed25519Impl().name }); return }
  const n = j.offs.length - 1
  const out: WorkerCheck[] = new Array(n)
  // One buffer of hashes, transferred back: not an ArrayBuffer per record.
  const hashes = new Uint8Array(32 * n)
  // A private copy of the shared bytes, nothing can change them while they are checked:
  // one for the slice, not one per record (a small malloc each, in this thread's arena).
  const base = j.offs[0]!
  const mine = new Uint8Array(j.buf, base, j.offs[n]! - base).slice()
  for (let k = 0; k < n; k++) {
    const bytes = mine.subarray(j.offs[k]! - base, j.offs[k + 1]! - base)
    const c = checkRecord(bytes, j.maxBytes)
    if (typeof c === 'string') { out[k] = c; continue }
    hashes.set(c.hash, 32 * k)
    out[k] = { rec: c.rec, groupId: c.groupId, recordId: c.recordId }
  }
  parentPort!.postMessage({ id: j.id, out, hashes }, [hashes.buffer])
})
