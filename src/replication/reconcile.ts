/**
 * Range-based set reconciliation over record hashes, pure (no I/O): given the
 * ranges a peer sent, decide what to answer and which of our records to send.
 * Both peers run the same code; the session (sync-protocol.ts) alternates turns.
 *
 * Range messages (node (d, i) of the 16-ary hash trie, see sync-index.ts):
 *   SPLIT  {k:0, d, i, c: 16 counts (bytes, capped at 255), f: 16 × 4-byte fingerprints}
 *          "my summaries of the 16 children of (d, i)"
 *   IDS    {k:1, d, i, h: n × 3-byte id slices}   "my elements in (d, i)"
 *   NEED   {k:2, d, i, h: id slices}              "send me yours with these ids"
 *   ALL    {k:3, d, i}                            "send me everything you have in (d, i)"
 *   FULL   {k:4, d, i, h: n × 32-byte hashes}     "my elements in (d, i), in full"
 *                                                  (after an id-slice collision)
 *   IBLT   {k:5, 0, 0, c, x}                      "my whole set as an IBLT" (iblt.ts; 1.1.0 only,
 *                                                  in the opening, before the root SPLIT)
 *   WANT   {k:6, 0, 0, h: n × 32-byte hashes}     "send me these records" (1.1.0 only, ≤ iblt CELLS;
 *                                                  also the answer to a FULL, where 1.0.0 answers ALL)
 * A 1.1.0 opening is [IBLT, root SPLIT]. The responder peels the difference of
 * the IBLT and its own; it acts on it only if it peels, every element it says
 * we hold is held and every one it says we lack is not, and the initiator's
 * root SPLIT equals ours adjusted by the difference (count and fingerprint of
 * every child). Then it answers with the records the initiator lacks and one
 * WANT, and the SPLIT is not answered; otherwise the IBLT is ignored and the
 * SPLIT answered as in 1.0.0 (no round trip lost).
 * On the wire each range is a CBOR array [k, d, i, c?, f?|h?] (see toWire/fromWire).
 * A child is answered by: nothing (fingerprints equal); ALL (we have none); our
 * records (they have none); IDS (both small, ≤ LEAF); or a SPLIT one level down.
 * Cost grows with the number of differing ranges, not with the set size.
 */
import { equalBytes, toHex } from '../crypto/bytes.js'
import { CELLS, decodeDifference, wireShapeOk, type Iblt } from './iblt.js'
import { FANOUT, FP_BYTES, summarise, type NodeSummary } from './sync-index.js'

export const LEAF = 48
export const ID_BYTES = 3
export const MAX_DEPTH = 30
const ID_OFFSET = 16

export type Range =
  | { k: 0, d: number, i: number, c: Uint8Array, f: Uint8Array }
  | { k: 1, d: number, i: number, h: Uint8Array }
  | { k: 2, d: number, i: number, h: Uint8Array }
  | { k: 3, d: number, i: number }
  | { k: 4, d: number, i: number, h: Uint8Array }
  | { k: 5, d: 0, i: 0, c: Uint8Array, x: Uint8Array }
  | { k: 6, d: 0, i: 0, h: Uint8Array }

/** What reconciliation needs from one side's set. */
export interface SetView {
  /** Summary of node (d, i). */
  summary: (d: number, i: number) => NodeSummary
  /** All element hashes in node (d, i), ascending. */
  elements: (d: number, i: number) => Uint8Array[]
  /** The set's IBLT (1.1.0); a view without one ignores a peer's IBLT. */
  iblt?: () => Iblt
  /** Of these hashes, those the set holds. */
  held?: (hs: Uint8Array[]) => Uint8Array[]
  /** Summary of (d, i) with `plus` added and `minus` removed (d ≤ 1 at least). */
  adjusted?: (d: number, i: number, plus: Uint8Array[], minus: Uint8Array[]) => NodeSummary | undefined
}

export interface Turn {
  ranges: Range[]
  /** Our elements the peer lacks: send these records. */
  send: Uint8Array[]
  /** Whole nodes the peer lacks entirely: send all our records in them. */
  sendAll: Array<{ d: number, i: number }>
  /** Set when the incoming turn opened with an IBLT: did it settle the difference? */
  iblt?: 'peeled' | 'fallback'
}

export const idOf = (h: Uint8Array): Uint8Array => h.subarray(ID_OFFSET, ID_OFFSET + ID_BYTES)

/**
 * What one side remembers between its turns: for every range it answered with
 * IDS, the peer's summary of that range (from the peer's SPLIT). When the peer
 * answers, the peer's original set is known exactly — our current elements there
 * minus those it asked for (NEED) — so a short-slice collision that made either
 * side mistake one record for another shows as a fingerprint mismatch, and that
 * range is compared once more with full hashes.
 */
export interface SessionState {
  idsSent: Map<string, { d: number, i: number, count: number, fp: Uint8Array }>
  /** The peer speaks 1.1.0: a FULL is answered with a WANT of exactly what we lack, not ALL. */
  want: boolean
}
export const newSessionState = (want = false): SessionState => ({ idsSent: new Map(), want })

export function splitOf (set: SetView, d: number, i: number): Range {
  const c = new Uint8Array(FANOUT)
  const f = new Uint8Array(FANOUT * FP_BYTES)
  for (let k = 0; k < FANOUT; k++) {
    const s = set.summary(d + 1, i * FANOUT + k)
    c[k] = Math.min(s.count, 255)
    f.set(s.fp, k * FP_BYTES)
  }
  return { k: 0, d, i, c, f }
}

/** The opening turn: summaries of the root's children, after the set's IBLT when `iblt` (1.1.0). */
export function openingTurn (set: SetView, iblt = false): Turn {
  const split = splitOf(set, 0, 0)
  const t = iblt && set.iblt !== undefined ? set.iblt().toWire() : undefined
  return { ranges: t === undefined ? [split] : [{ k: 5, d: 0, i: 0, ...t }, split], send: [], sendAll: [] }
}

/**
 * The difference an IBLT opening claims, if it checks out (see the header);
 * undefined = answer the SPLIT instead.
 */
function fromIblt (set: SetView, incoming: Range[]): { theirs: Uint8Array[], mine: Uint8Array[] } | undefined {
  const t = incoming[0]
  const split = incoming[1]
  if (t?.k !== 5 || split?.k !== 0 || split.d !== 0 || incoming.length !== 2) return undefined
  if (set.iblt === undefined || set.held === undefined || set.adjusted === undefined) return undefined
  const diff = decodeDifference(t, set.iblt())
  if (diff === undefined) return undefined
  const held = new Set(set.held([...diff.theirs, ...diff.mine]).map(h => toHex(h)))
  if (diff.theirs.some(h => held.has(toHex(h))) || !diff.mine.every(h => held.has(toHex(h)))) return undefined
  for (let k = 0; k < FANOUT; k++) {
    const s = set.adjusted(1, k, diff.theirs, diff.mine)
    if (s === undefined || Math.min(s.count, 255) !== split.c[k] || !equalBytes(s.fp, split.f.subarray(k * FP_BYTES, (k + 1) * FP_BYTES))) return undefined
  }
  return diff
}

export function respond (set: SetView, incoming: Range[], state: SessionState = newSessionState()): Turn {
  const out: Turn = { ranges: [], send: [], sendAll: [] }
  if (incoming[0]?.k === 5) {
    const diff = fromIblt(set, incoming)
    if (diff !== undefined) {
      out.send.push(...diff.mine)
      if (diff.theirs.length > 0) out.ranges.push({ k: 6, d: 0, i: 0, h: concatIds(diff.theirs) })
      out.iblt = 'peeled'
      return out
    }
    out.iblt = 'fallback'
  }
  verifyIdsAnswers(set, incoming, state, out)
  for (const r of incoming) {
    switch (r.k) {
      case 5: break // did not check out: the SPLIT after it is answered instead
      case 6: out.send.push(...(set.held?.(slices(r.h, 32)) ?? [])); break
      case 0: onSplit(set, r, out, state); break
      case 1: onIds(set, r.d, r.i, slices(r.h, ID_BYTES), out); break
      case 4: onIds(set, r.d, r.i, slices(r.h, 32), out, state.want); break
      case 2: {
        const want = slices(r.h, ID_BYTES)
        for (const e of set.elements(r.d, r.i)) if (want.some(w => equalBytes(w, idOf(e)))) out.send.push(e)
        break
      }
      case 3: out.sendAll.push({ d: r.d, i: r.i }); break
    }
  }
  return out
}

function verifyIdsAnswers (set: SetView, incoming: Range[], state: SessionState, out: Turn): void {
  if (state.idsSent.size === 0) return
  const needed = new Map<string, Set<string>>()
  const hex = (b: Uint8Array): string => toHex(b)
  for (const r of incoming) {
    const key = `${r.d}/${r.i}`
    if (r.k === 2 && state.idsSent.has(key)) needed.set(key, new Set(slices(r.h, ID_BYTES).map(hex)))
    // A range the peer answers with FULL or ALL is being settled in full already.
    if ((r.k === 4 || r.k === 3) && state.idsSent.has(key)) state.idsSent.delete(key)
  }
  for (const [key, exp] of state.idsSent) {
    const want = needed.get(key) ?? new Set<string>()
    const theirs = set.elements(exp.d, exp.i).filter(e => !want.has(hex(idOf(e))))
    const s = summarise(theirs)
    if (s.count !== exp.count || !equalBytes(s.fp, exp.fp)) out.ranges.push({ k: 4, d: exp.d, i: exp.i, h: concatIds(set.elements(exp.d, exp.i)) })
  }
  state.idsSent.clear()
}

function onSplit (set: SetView, r: Extract<Range, { k: 0 }>, out: Turn, state: SessionState): void {
  const cd = r.d + 1
  for (let k = 0; k < FANOUT; k++) {
    const ci = r.i * FANOUT + k
    const mine = set.summary(cd, ci)
    const theirFp = r.f.subarray(k * FP_BYTES, (k + 1) * FP_BYTES)
    const theirs = r.c[k] ?? 0
    if (equalBytes(mine.fp, theirFp) && Math.min(mine.count, 255) === theirs) continue
    if (theirs === 0 && mine.count === 0) continue
    if (mine.count === 0) { out.ranges.push({ k: 3, d: cd, i: ci }); continue }
    if (theirs === 0) { out.sendAll.push({ d: cd, i: ci }); continue }
    if ((mine.count <= LEAF && theirs <= LEAF) || cd >= MAX_DEPTH) {
      out.ranges.push({ k: 1, d: cd, i: ci, h: concatIds(set.elements(cd, ci).map(idOf)) })
      state.idsSent.set(`${cd}/${ci}`, { d: cd, i: ci, count: theirs, fp: new Uint8Array(theirFp) })
    } else {
      out.ranges.push(splitOf(set, cd, ci))
    }
  }
}

/** IDS (`want` undefined) or FULL (`want`: may the answer be a WANT?). */
function onIds (set: SetView, d: number, i: number, theirs: Uint8Array[], out: Turn, want?: boolean): void {
  const full = want !== undefined
  const mine = set.elements(d, i)
  const key = full ? (h: Uint8Array) => h : idOf
  const hex = (b: Uint8Array): string => toHex(b)
  const theirSet = new Set(theirs.map(hex))
  const mineSet = new Set(mine.map(h => hex(key(h))))
  const send = mine.filter(e => !theirSet.has(hex(key(e))))
  const need = theirs.filter(t => !mineSet.has(hex(t)))
  if (!full) {
    // The peer listed this range because it differs. If the short slices cannot
    // account for that (nothing differs, the matched parts differ in size, or a
    // slice repeats), some slices collide: compare full hashes once instead.
    const ambiguous = (send.length === 0 && need.length === 0) ||
      mine.length - send.length !== theirs.length - need.length ||
      mineSet.size !== mine.length || theirSet.size !== theirs.length
    if (ambiguous) { out.ranges.push({ k: 4, d, i, h: concatIds(mine) }); return }
  }
  out.send.push(...send)
  if (need.length > 0) {
    // After a collision (rare): 1.1.0 asks for exactly the hashes it lacks; 1.0.0 takes the whole small range.
    if (!full) out.ranges.push({ k: 2, d, i, h: concatIds(need) })
    else if (want === true && need.length <= CELLS) out.ranges.push({ k: 6, d: 0, i: 0, h: concatIds(need) })
    else out.ranges.push({ k: 3, d, i })
  }
}

function concatIds (ids: Uint8Array[]): Uint8Array {
  const w = ids[0]?.length ?? 0
  const out = new Uint8Array(ids.length * w)
  ids.forEach((x, j) => out.set(x, j * w))
  return out
}

function slices (b: Uint8Array, w: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let o = 0; o + w <= b.length; o += w) out.push(b.subarray(o, o + w))
  return out
}

/** Compact wire form: [k, d, i, ...]. */
export function toWire (r: Range): unknown[] {
  switch (r.k) {
    case 0: return [0, r.d, r.i, r.c, r.f]
    case 3: return [3, r.d, r.i]
    case 5: return [5, 0, 0, r.c, r.x]
    default: return [r.k, r.d, r.i, r.h]
  }
}

/** Validate a range decoded from the network; undefined if it is malformed. */
export function fromWire (v: unknown): Range | undefined {
  if (!Array.isArray(v) || v.length < 3) return undefined
  const [k, d, i, a, b] = v as [unknown, unknown, unknown, unknown, unknown]
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d >= MAX_DEPTH) return undefined
  if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0 || i >= 16 ** d) return undefined
  const bytesOf = (x: unknown, w: number, max: number): Uint8Array | undefined => x instanceof Uint8Array && x.length % w === 0 && x.length <= max * w ? x : undefined
  switch (k) {
    case 0: {
      if (v.length !== 5 || !(a instanceof Uint8Array) || a.length !== FANOUT || !(b instanceof Uint8Array) || b.length !== FANOUT * FP_BYTES) return undefined
      return { k: 0, d, i, c: a, f: b }
    }
    case 1: case 2: { const h = v.length === 4 ? bytesOf(a, ID_BYTES, 8192) : undefined; return h === undefined ? undefined : { k, d, i, h } }
    case 3: return v.length === 3 ? { k: 3, d, i } : undefined
    case 4: { const h = v.length === 4 ? bytesOf(a, 32, 8192) : undefined; return h === undefined ? undefined : { k: 4, d, i, h } }
    case 5: return v.length === 5 && d === 0 && i === 0 && wireShapeOk(a, b) ? { k: 5, d: 0, i: 0, c: a as Uint8Array, x: b as Uint8Array } : undefined
    case 6: { const h = v.length === 4 && d === 0 && i === 0 ? bytesOf(a, 32, CELLS) : undefined; return h === undefined ? undefined : { k: 6, d: 0, i: 0, h } }
  }
  return undefined
}

