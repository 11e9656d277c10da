/**
 * Worker thread of the sync verifier (verifier.ts): checks a slice of a batch
 * of received record bytes with records/record.ts checkRecord (decode, body
 * by kind, signature — a batch-signed record's root once per worker, records/batch.ts —
 * and hash), one call per record, and returns what it found.
 *
 * In:  { id, buf: SharedArrayBuffer, offs: Uint32Array, maxBytes } — record k is buf[offs[k], offs[k+1])
 * Out: { id, out: Array<CheckedFields minus its hash | DecodeFailure>, hashes: Uint8Array (32 B per record) }
 */
import { parentPort } from 'node:worker_threads'
import { checkRecord, type CheckedFields, type DecodeFailure } from '../records/record.js'

interface Job { id: number, buf: SharedArrayBuffer, offs: Uint32Array, maxBytes: number }

export type WorkerCheck = Omit<CheckedFields, 'hash'> | DecodeFailure

parentPort?.on('message', (j: Job) => {
  const n = j.offs.length - 1
  const out: WorkerCheck[] = new Array(n)
  // One buffer of hashes, transferred back: not an ArrayBuffer per record.
  const hashes = new Uint8Array(32 * n)
  for (let k = 0; k < n; k++) {
    // A private copy of the shared bytes: nothing can change them while they are checked.
    const bytes = new Uint8Array(j.buf, j.offs[k]!, j.offs[k + 1]! - j.offs[k]!).slice()
    const c = checkRecord(bytes, j.maxBytes)
    if (typeof c === 'string') { out[k] = c; continue }
    hashes.set(c.hash, 32 * k)
    out[k] = { rec: c.rec, groupId: c.groupId, recordId: c.recordId }
  }
  parentPort!.postMessage({ id: j.id, out, hashes }, [hashes.buffer])
})
