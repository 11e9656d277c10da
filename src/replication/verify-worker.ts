/** Worker thread: verifies batches of Ed25519 signatures with node:crypto (a batch-signed record's root once per worker: records/batch.ts). */
import { parentPort } from 'node:worker_threads'
import { verifyRecordSignature as verify } from '../records/record.js'

interface Job { id: number, pubs: Uint8Array[], msgs: Uint8Array[], sigs: Uint8Array[] }

parentPort?.on('message', (j: Job) => {
  const ok = new Uint8Array(j.msgs.length)
  for (let k = 0; k < j.msgs.length; k++) ok[k] = verify(j.pubs[k]!, j.msgs[k]!, j.sigs[k]!) ? 1 : 0
  parentPort!.postMessage({ id: j.id, ok }, [ok.buffer])
})
