/**
 * `cairn audit verify --file`: check an exported audit log offline, without
 * a daemon, against the peer ID of the node that wrote it (audit/export.ts).
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ChainVerdict } from '../audit/chain.js'
import { verifyExportLines } from '../audit/export.js'
import { CairnError } from '../util/errors.js'

/** The Ed25519 public key inside a peer ID (what checkpoints must be signed with). */
export function nodePublicKeyOf (peerId: string): Uint8Array {
  let key: Uint8Array | undefined
  try { key = peerIdFromString(peerId).publicKey?.raw } catch {}
  if (key?.length !== 32) throw new CairnError('INVALID_INPUT', `not the Ed25519 peer ID of a cairn node (12D3Koo…): ${peerId.slice(0, 80)}`)
  return key
}

/** Verify the JSON Lines in `file` (- for stdin). */
export async function verifyAuditFile (file: string, peerId: string): Promise<ChainVerdict> {
  const key = nodePublicKeyOf(peerId)
  const input = file === '-' ? process.stdin : createReadStream(file)
  const opened = new Promise<void>((resolve, reject) => {
    if (file === '-') { resolve(); return }
    input.once('open', () => resolve())
    input.once('error', (e: Error) => reject(new CairnError('INVALID_INPUT', `cannot read ${file}: ${e.message}`)))
  })
  await opened
  return await verifyExportLines(createInterface({ input, crlfDelay: Infinity }), key)
}
