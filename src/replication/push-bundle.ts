/**
 * Push bundles: the records of one group committed together, in one gossipsub
 * message instead of one message each.
 *
 *   CBOR array [ "cairn/push/bundle/v1", [ record bytes… ] ]   (1..MAX_BUNDLE_RECORDS records)
 *
 * A record is a CBOR array of 8 (first byte 0x88, envelope.ts); a bundle is an
 * array of 2 (0x82): a message is one or the other from its first byte. A
 * bundle is not signed: each record in it carries its own signature (or batch
 * proof) and is judged alone, exactly as if it had come in its own message. The
 * bundle's gossip message ID is SHA-256 of its bytes, as for any message.
 *
 * Why: a gossipsub message costs every process it crosses ~150–200 µs of CPU
 * whatever it carries (framing, noise, yamux, the seen cache, IDONTWANT, the
 * validation round): raw gossipsub's ~580 µs a message in all processes was
 * over a third of a sustained cairn write's ~1,550 (docs/PERFORMANCE.md). A group commit
 * batch of ~20 writes becomes one message; a lone write stays a plain record.
 *
 * Compatibility: a node says in its hello (`pb: 1`) that it takes bundles; a
 * group's records are bundled only while every subscriber of its topic that the
 * publisher is connected to has said so (push.ts). A node older than bundles
 * that only a forwarder reaches refuses a bundle as malformed and gets its
 * records by anti-entropy.
 */
import { decodeBounded, encodeCanonical } from '../crypto/canonical.js'

export const BUNDLE_LABEL = 'cairn/push/bundle/v1'
/** Records in one bundle at most (a group commit batch is ~20 under load). */
export const MAX_BUNDLE_RECORDS = 64
/** A bundle's own bytes around its records' (label, headers), for its size bound. */
const OVERHEAD = 64
const ARRAY_OF_2 = 0x82

export interface Outgoing { gid: string, bytes: Uint8Array }
/** One gossip message: a record alone, or a bundle of `records` of one group. */
export interface PushMessage { gid: string, data: Uint8Array, records: number }

export const encodeBundle = (records: Uint8Array[]): Uint8Array => encodeCanonical([BUNDLE_LABEL, records])

/**
 * The records a received push message carries: the message itself (a record,
 * judged by the acceptor as ever), or a bundle's records. Undefined for a
 * bundle of the wrong shape (not the label, no records or too many, an element
 * not bytes, larger than `maxBytes`, not decodable).
 */
export function messageRecords (data: Uint8Array, maxBytes: number): Uint8Array[] | undefined {
  if (data[0] !== ARRAY_OF_2) return [data]
  if (data.length > maxBytes + OVERHEAD) return undefined
  let m: unknown
  try { m = decodeBounded(data, undefined, 3) } catch { return undefined }
  if (!Array.isArray(m) || m.length !== 2 || m[0] !== BUNDLE_LABEL || !Array.isArray(m[1])) return undefined
  const recs = m[1] as unknown[]
  if (recs.length === 0 || recs.length > MAX_BUNDLE_RECORDS || !recs.every(r => r instanceof Uint8Array)) return undefined
  return recs as Uint8Array[]
}

/**
 * The messages for a run of outgoing records, in their order within each
 * group: a group whose records may be bundled (`bundled(gid)`) gets bundles of
 * up to MAX_BUNDLE_RECORDS records and `maxBytes` bytes; a bundle of one
 * record, or a group that may not be bundled, sends each record as itself.
 */
export function pushMessages (out: readonly Outgoing[], bundled: (gid: string) => boolean, maxBytes: number): PushMessage[] {
  const byGroup = new Map<string, Uint8Array[]>()
  for (const o of out) {
    const l = byGroup.get(o.gid)
    if (l === undefined) byGroup.set(o.gid, [o.bytes]); else l.push(o.bytes)
  }
  const msgs: PushMessage[] = []
  for (const [gid, recs] of byGroup) {
    if (recs.length === 1 || !bundled(gid)) { for (const r of recs) msgs.push({ gid, data: r, records: 1 }); continue }
    let run: Uint8Array[] = []
    let bytes = 0
    const flush = (): void => {
      if (run.length === 1) msgs.push({ gid, data: run[0]!, records: 1 })
      else if (run.length > 1) msgs.push({ gid, data: encodeBundle(run), records: run.length })
      run = []; bytes = 0
    }
    for (const r of recs) {
      if (run.length > 0 && (run.length >= MAX_BUNDLE_RECORDS || bytes + r.length + 8 > maxBytes)) flush()
      run.push(r); bytes += r.length + 8
    }
    flush()
  }
  return msgs
}
