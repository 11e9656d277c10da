/**
 * Verify an exported audit log (JSON Lines, as GET /api/v1/audit/export and
 * `cairn audit export` write it) without the node: each line is an entry as
 * GET /api/v1/audit shows it, and its hashed data is the line without the
 * entry's own fields (seq, at, kind, hash, prevHash), serialised in the order
 * given. An auditor needs the file and the node's public key (its peer ID).
 */
import { ChainVerifier, type ChainVerdict } from './chain.js'

const OWN = new Set(['seq', 'at', 'kind', 'hash', 'prevHash'])
const HEX64 = /^[0-9a-f]{64}$/

/** One exported line back to the row it was made from, or undefined if it is not an entry. */
export function rowFromLine (line: string): { seq: number, at: number, kind: string, data: string, prev: string, hash: string } | undefined {
  let o: unknown
  try { o = JSON.parse(line) } catch { return undefined }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined
  const e = o as Record<string, unknown>
  const at = typeof e.at === 'string' ? Date.parse(e.at) : NaN
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || Number.isNaN(at) || typeof e.kind !== 'string' ||
    typeof e.hash !== 'string' || !HEX64.test(e.hash) || typeof e.prevHash !== 'string' || !HEX64.test(e.prevHash)) return undefined
  const data: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e)) if (!OWN.has(k)) data[k] = v
  return { seq: e.seq, at, kind: e.kind, data: JSON.stringify(data), prev: e.prevHash, hash: e.hash }
}

/**
 * The same verdict AuditLog.verify gives for the log the lines came from.
 * A line that is not an entry breaks the chain where it stands ('gap': the
 * entry that should be there cannot be read).
 */
export async function verifyExportLines (lines: Iterable<string> | AsyncIterable<string>, nodePublicKey: Uint8Array): Promise<ChainVerdict> {
  const v = new ChainVerifier(nodePublicKey)
  let expect = 1
  for await (const line of lines) {
    if (line.trim() === '') continue
    const row = rowFromLine(line)
    if (!v.push(row ?? { seq: -expect, at: 0, kind: '', data: '', prev: '', hash: '' })) break
    expect++
  }
  return v.result()
}
