/**
 * Incremental range summaries of one group's record set, for reconciliation.
 *
 * The set's elements are record hashes (SHA-256: uniformly spread). Ranges are
 * the nodes of a 16-ary trie over the hash's leading nibbles: node (d, i) holds
 * the hashes whose first d nibbles equal i. Because both peers cut the hash
 * space at the same places, a range is named by (d, i) alone: bounds cost nothing
 * on the wire.
 *
 * Each node keeps a count and four 32-bit lane sums of hash bytes 16..31
 * (addition mod 2^32 per lane, so insert and delete are O(depth) updates). The
 * fingerprint of a node is SHA-256(count || lanes) cut to FP_BYTES.
 * Levels 1..depth are kept in typed arrays (depth grows with the set: ~16^depth ≈ n/4),
 * deeper nodes are summed from the element list on demand.
 * Beside the levels, an IBLT of the whole set (iblt.ts, the opening of a
 * /cairn/sync/1.1.0 session) is kept by the same add/remove and saved with
 * them (after the last level in `state`).
 */
import { sha256 } from '../crypto/hash.js'
import { Iblt, WORDS as IBLT_WORDS } from './iblt.js'

export const FANOUT = 16
export const FP_BYTES = 4
const CELL = 5 // count + 4 lanes
const MAX_DEPTH = 4

export interface NodeSummary { count: number, fp: Uint8Array }

export function prefixIndex (hash: Uint8Array, depth: number): number {
  let idx = 0
  for (let k = 0; k < depth; k++) {
    const byte = hash[k >> 1]!
    idx = idx * 16 + ((k & 1) === 0 ? byte >> 4 : byte & 15)
  }
  return idx
}

/** [lo, hi) byte bounds of node (d, i); hi undefined = end of space. */
export function nodeBounds (depth: number, idx: number): { lo: Uint8Array, hi: Uint8Array | undefined } {
  const lo = new Uint8Array(32)
  const write = (buf: Uint8Array, v: number): void => {
    for (let k = depth - 1; k >= 0; k--) {
      const nib = v % 16
      v = Math.floor(v / 16)
      const j = k >> 1
      buf[j] = (k & 1) === 0 ? (buf[j]! & 0x0f) | (nib << 4) : (buf[j]! & 0xf0) | nib
    }
  }
  write(lo, idx)
  if (idx + 1 >= 16 ** depth) return { lo, hi: undefined }
  const hi = new Uint8Array(32)
  write(hi, idx + 1)
  return { lo, hi }
}

export function fingerprint (count: number, l0: number, l1: number, l2: number, l3: number): Uint8Array {
  const b = new Uint8Array(20)
  const v = new DataView(b.buffer)
  v.setUint32(0, count, true); v.setUint32(4, l0, true); v.setUint32(8, l1, true); v.setUint32(12, l2, true); v.setUint32(16, l3, true)
  return sha256(b).subarray(0, FP_BYTES)
}

const lane = (h: Uint8Array, k: number): number => (h[16 + 4 * k]! | (h[17 + 4 * k]! << 8) | (h[18 + 4 * k]! << 16) | (h[19 + 4 * k]! << 24)) >>> 0

/** Summarise a list of hashes directly (used below the indexed depth, and by tests). */
export function summarise (hashes: Iterable<Uint8Array>): NodeSummary {
  let c = 0; let a = 0; let b = 0; let d = 0; let e = 0
  for (const h of hashes) { c++; a = (a + lane(h, 0)) >>> 0; b = (b + lane(h, 1)) >>> 0; d = (d + lane(h, 2)) >>> 0; e = (e + lane(h, 3)) >>> 0 }
  return { count: c, fp: fingerprint(c, a, b, d, e) }
}

export function depthFor (n: number): number {
  return Math.max(1, Math.min(MAX_DEPTH, Math.ceil(Math.log(Math.max(n, 1) / 4) / Math.log(16))))
}

const stateLength = (depth: number): number => { let n = CELL + IBLT_WORDS; for (let d = 1; d <= depth; d++) n += 16 ** d * CELL; return n }

export class SyncIndex {
  private readonly levels: Uint32Array[] = []
  private total = new Uint32Array(CELL)
  readonly iblt = new Iblt()

  constructor (readonly depth: number) {
    for (let d = 1; d <= depth; d++) this.levels.push(new Uint32Array(16 ** d * CELL))
  }

  static build (hashes: Iterable<Uint8Array>, n: number): SyncIndex {
    const ix = new SyncIndex(depthFor(n))
    for (const h of hashes) ix.add(h)
    return ix
  }

  /**
   * An index from its state (as `state` returned it). Undefined when the
   * length is wrong for the depth. Every level is stored, so loading is a
   * copy: no per-node work while the JIT is still cold at start-up.
   */
  static fromState (depth: number, state: Uint32Array): SyncIndex | undefined {
    if (!Number.isInteger(depth) || depth < 1 || depth > MAX_DEPTH || state.length !== stateLength(depth)) return undefined
    const ix = new SyncIndex(depth)
    ix.total.set(state.subarray(0, CELL))
    let o = CELL
    for (const l of ix.levels) { l.set(state.subarray(o, o + l.length)); o += l.length }
    ix.iblt.cells.set(state.subarray(o, o + IBLT_WORDS))
    return ix
  }

  /** The whole state: the total, then every level, shallowest first, then the IBLT. */
  state (): Uint32Array {
    const out = new Uint32Array(stateLength(this.depth))
    out.set(this.total)
    let o = CELL
    for (const l of this.levels) { out.set(l, o); o += l.length }
    out.set(this.iblt.cells, o)
    return out
  }

  get size (): number { return this.total[0]! }

  /** Would a rebuild at another depth serve this size better? */
  outgrown (): boolean { return depthFor(this.size) > this.depth }

  add (h: Uint8Array): void { this.apply(h, 1) }
  remove (h: Uint8Array): void { this.apply(h, -1) }

  private apply (h: Uint8Array, sign: 1 | -1): void {
    if (sign === 1) this.iblt.add(h); else this.iblt.remove(h)
    const l0 = lane(h, 0); const l1 = lane(h, 1); const l2 = lane(h, 2); const l3 = lane(h, 3)
    const upd = (arr: Uint32Array, o: number): void => {
      arr[o] = (arr[o]! + sign) >>> 0
      arr[o + 1] = (arr[o + 1]! + sign * l0) >>> 0
      arr[o + 2] = (arr[o + 2]! + sign * l1) >>> 0
      arr[o + 3] = (arr[o + 3]! + sign * l2) >>> 0
      arr[o + 4] = (arr[o + 4]! + sign * l3) >>> 0
    }
    upd(this.total, 0)
    for (let d = 1; d <= this.depth; d++) upd(this.levels[d - 1]!, prefixIndex(h, d) * CELL)
  }

  /** Summary of node (d, i) if d is indexed; undefined when the caller must list the range. */
  node (depth: number, idx: number): NodeSummary | undefined {
    const arr = depth === 0 ? this.total : depth <= this.depth ? this.levels[depth - 1] : undefined
    if (arr === undefined) return undefined
    const o = depth === 0 ? 0 : idx * CELL
    return { count: arr[o]!, fp: fingerprint(arr[o]!, arr[o + 1]!, arr[o + 2]!, arr[o + 3]!, arr[o + 4]!) }
  }

  count (depth: number, idx: number): number | undefined {
    if (depth === 0) return this.total[0]
    if (depth > this.depth) return undefined
    return this.levels[depth - 1]![idx * CELL]
  }

  /**
   * Summary of indexed node (d, i) as it would be with `plus` added and
   * `minus` removed (elements outside the node are ignored): what a peer's
   * node should look like if an IBLT difference is right.
   */
  adjusted (depth: number, idx: number, plus: Uint8Array[], minus: Uint8Array[]): NodeSummary | undefined {
    const arr = depth === 0 ? this.total : depth <= this.depth ? this.levels[depth - 1] : undefined
    if (arr === undefined) return undefined
    const o = depth === 0 ? 0 : idx * CELL
    const c = arr.slice(o, o + CELL)
    const step = (h: Uint8Array, sign: 1 | -1): void => {
      if (depth > 0 && prefixIndex(h, depth) !== idx) return
      c[0] = (c[0]! + sign) >>> 0
      for (let k = 0; k < 4; k++) c[1 + k] = (c[1 + k]! + sign * lane(h, k)) >>> 0
    }
    for (const h of plus) step(h, 1)
    for (const h of minus) step(h, -1)
    return { count: c[0]!, fp: fingerprint(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!) }
  }

  /** Bytes held (for metrics and eviction). */
  get memoryBytes (): number { return this.levels.reduce((s, a) => s + a.byteLength, this.iblt.cells.byteLength) }
}
