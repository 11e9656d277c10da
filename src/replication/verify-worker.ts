/** Worker thread: verifies batches of Ed25519 signatures with node:crypto. */
import { parentPort } from 'node:worker_threads'
import { verify } from '../crypto/sign.js'

interface Job { id: number, pubs: Uint8Array[], msgs: Uint8Array[], sigs: Uint8Array[] }

parentPort?.on('message', (j: Job) => {
  const ok = new Uint8Array(j.msgs.length)
  for (let k = 0; k < j.msgs.length; k++) ok[k] = verify(j.pubs[k]!, j.msgs[k]!, j.sigs[k]!) ? 1 : 0
  parentPort!.postMessage({ id: j.id, ok }, [ok.buffer])
})
