/**
 * Two in-memory sets reconciled exactly as a /cairn/sync/1.0.0 (or 1.1.0) session drives
 * them (sync-protocol.ts): the initiator `a` opens, the sides alternate turns,
 * each turn's records are applied before the receiver answers, every range
 * crosses the wire form (toWire → canonical CBOR → decode → fromWire), and a
 * round trip is counted as the session counts it: each turn (or final "done")
 * the initiator receives. The reference for the property tests of
 * reconcile.ts and for the benchmark's 1M-item case (no processes, no disk).
 */
import { decode as cborDecode } from 'cborg'
import { encodeCanonical } from '../crypto/canonical.js'
import { MemorySet } from './memory-set.js'
import { fromWire, newSessionState, openingTurn, respond, toWire, type Range, type Turn } from './reconcile.js'

/** The session's own limit on turns. */
const MAX_TURNS = 64

export interface SessionOutcome { a: MemorySet, b: MemorySet, turns: number, roundTrips: number, rangeBytes: number, recordsSent: number }

/** One message crossing the wire: ranges → CBOR bytes → ranges, as a peer would read them. */
export function overWire (ranges: Range[]): { ranges: Range[], bytes: number } {
  const bytes = encodeCanonical(ranges.map(toWire))
  const back = cborDecode(bytes, { useMaps: false }) as unknown[]
  return {
    ranges: back.map(w => { const r = fromWire(w); if (r === undefined) throw new Error(`range does not survive the wire: ${JSON.stringify(w)}`); return r }),
    bytes: bytes.length
  }
}

function recordsOf (from: MemorySet, t: Turn): Uint8Array[] {
  const out = [...t.send]
  for (const n of t.sendAll) out.push(...from.elements(n.d, n.i))
  return out
}

export function reconcileInMemory (aHashes: Uint8Array[], bHashes: Uint8Array[], o: { iblt?: boolean } = {}): SessionOutcome {
  return reconcileSets(new MemorySet(aHashes), new MemorySet(bHashes), o)
}

/** Reconcile two sets in place (both end with the union); `iblt`: open as /cairn/sync/1.1.0 does. */
export function reconcileSets (a: MemorySet, b: MemorySet, o: { iblt?: boolean } = {}): SessionOutcome {
  let turns = 1
  let roundTrips = 0
  let recordsSent = 0
  const open = overWire(openingTurn(a, o.iblt === true).ranges)
  let rangeBytes = open.bytes
  let msg = { ranges: open.ranges, records: [] as Uint8Array[] }
  let receiver = b
  // Each side keeps its own session state, as SyncService sessions do.
  const states = new Map([[a, newSessionState(o.iblt === true)], [b, newSessionState(o.iblt === true)]])
  for (;;) {
    for (const r of msg.records) receiver.add(r)
    recordsSent += msg.records.length
    if (receiver === a) roundTrips++
    const t = respond(receiver, msg.ranges, states.get(receiver))
    if (msg.ranges.length === 0 && t.ranges.length === 0) { if (receiver === b) roundTrips++; break } // answered with {done}
    if (++turns > MAX_TURNS) throw new Error(`more than ${MAX_TURNS} turns`)
    const w = overWire(t.ranges)
    rangeBytes += w.bytes
    msg = { ranges: w.ranges, records: recordsOf(receiver, t) }
    receiver = receiver === a ? b : a
  }
  return { a, b, turns, roundTrips, rangeBytes, recordsSent }
}
