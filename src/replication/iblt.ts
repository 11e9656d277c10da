/**
 * An invertible Bloom lookup table over a group's record hashes: the opening
 * of a /cairn/sync/1.1.0 session (reconcile.ts, range kind IBLT). Subtracting
 * the peer's table from ours leaves only the elements one side holds and the
 * other lacks; while there are few of them they can be listed ("peeled") from
 * CELLS cells whatever the size of the sets.
 *
 * Layout: SUBTABLES sub-tables of SUB cells; every element goes to one cell of
 * each (so its cells never coincide). A cell is
 *   count (int32, mod 2^32)  key (8 words: XOR of the full 32-byte hashes)  check (2 words: XOR of check(h))
 * Cell positions and check values are a keyed mix of the hash (key derived
 * from a domain string, so these tables are never confused with any other use
 * of the hashes). Adding is XOR plus a count step, so removal is the same
 * operation: the table is maintained incrementally beside the index levels.
 *
 * Peeling a difference (`decodeDifference`) is bounded: at most CELLS
 * elements and CELLS × SUBTABLES cell visits; an element is taken only from a
 * cell whose count is ±1 and whose check equals check(key); an element peeled
 * twice, a count left over, or any non-zero cell at the end = "did not decode",
 * and the caller falls back to the range trie. A decoded list is only a claim
 * about the peer's set: the caller checks it against its own store and the
 * peer's root summaries before acting on it.
 *
 * Wire form (`toWire`): c = CELLS bytes (count mod 256: a difference of ±1 is
 * all peeling needs), x = CELLS × 40 bytes (key then check, little-endian words).
 */
import { sha256 } from '../crypto/hash.js'

export const SUBTABLES = 4
export const SUB = 12
export const CELLS = SUBTABLES * SUB
const KEY_WORDS = 8
const CHECK_WORDS = 2
const CELL_WORDS = 1 + KEY_WORDS + CHECK_WORDS
export const WORDS = CELLS * CELL_WORDS
export const WIRE_CELL_BYTES = 4 * (KEY_WORDS + CHECK_WORDS)

const SEEDS = ((): Uint32Array => {
  const d = sha256(new TextEncoder().encode('cairn/sync/iblt/v1 cell positions and checks'))
  return new Uint32Array(d.buffer.slice(d.byteOffset, d.byteOffset + 32))
})()

/** Scratch words for add/remove (one element at a time, never kept): no allocation per record. */
const SCRATCH = new Uint32Array(KEY_WORDS)

function words (h: Uint8Array, w = SCRATCH): Uint32Array {
  for (let k = 0; k < KEY_WORDS; k++) w[k] = (h[4 * k]! | (h[4 * k + 1]! << 8) | (h[4 * k + 2]! << 16) | (h[4 * k + 3]! << 24)) >>> 0
  return w
}

/** A keyed, non-linear 32-bit mix of all 8 words (murmur3-style rounds): XOR of mixes is not the mix of the XOR. */
function mix (w: Uint32Array, seed: number): number {
  let x = seed >>> 0
  for (let k = 0; k < KEY_WORDS; k++) {
    x = Math.imul(x ^ w[k]!, 0x9e3779b1)
    x ^= x >>> 15
    x = Math.imul(x, 0x85ebca77)
    x ^= x >>> 13
  }
  x = Math.imul(x ^ (x >>> 16), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

const cellOf = (w: Uint32Array, t: number): number => t * SUB + (mix(w, SEEDS[t]!) % SUB)
const checkOf = (w: Uint32Array, j: number): number => mix(w, SEEDS[SUBTABLES + j]!)

export class Iblt {
  readonly cells: Uint32Array

  constructor (cells?: Uint32Array) {
    if (cells !== undefined && cells.length !== WORDS) throw new RangeError('wrong IBLT size')
    this.cells = cells ?? new Uint32Array(WORDS)
  }

  add (h: Uint8Array): void { toggle(this.cells, words(h), 1) }
  remove (h: Uint8Array): void { toggle(this.cells, words(h), -1) }

  toWire (): { c: Uint8Array, x: Uint8Array } {
    const c = new Uint8Array(CELLS)
    const x = new Uint8Array(CELLS * WIRE_CELL_BYTES)
    const v = new DataView(x.buffer)
    for (let j = 0; j < CELLS; j++) {
      const o = j * CELL_WORDS
      c[j] = this.cells[o]! & 0xff
      for (let k = 0; k < KEY_WORDS + CHECK_WORDS; k++) v.setUint32(j * WIRE_CELL_BYTES + 4 * k, this.cells[o + 1 + k]!, true)
    }
    return { c, x }
  }
}

function toggle (cells: Uint32Array, w: Uint32Array, sign: 1 | -1): void {
  const c0 = checkOf(w, 0); const c1 = checkOf(w, 1)
  for (let t = 0; t < SUBTABLES; t++) {
    const o = cellOf(w, t) * CELL_WORDS
    cells[o] = (cells[o]! + sign) >>> 0
    for (let k = 0; k < KEY_WORDS; k++) cells[o + 1 + k] = (cells[o + 1 + k]! ^ w[k]!) >>> 0
    cells[o + 9] = (cells[o + 9]! ^ c0) >>> 0
    cells[o + 10] = (cells[o + 10]! ^ c1) >>> 0
  }
}

/** Does a wire table have the right shape? (Its content is checked by peeling.) */
export const wireShapeOk = (c: unknown, x: unknown): boolean =>
  c instanceof Uint8Array && c.length === CELLS && x instanceof Uint8Array && x.length === CELLS * WIRE_CELL_BYTES

export interface Difference { theirs: Uint8Array[], mine: Uint8Array[] }

/**
 * The elements the peer's table holds and ours lacks (`theirs`) and the
 * reverse (`mine`); undefined when the difference does not peel (too many
 * differences, or cells no honest table produces).
 */
export function decodeDifference (theirs: { c: Uint8Array, x: Uint8Array }, mine: Iblt): Difference | undefined {
  if (!wireShapeOk(theirs.c, theirs.x)) return undefined
  // d = theirs − mine, counts mod 256 (int8 after subtraction).
  const cnt = new Int32Array(CELLS)
  const d = new Uint32Array(CELLS * (KEY_WORDS + CHECK_WORDS))
  const v = new DataView(theirs.x.buffer, theirs.x.byteOffset, theirs.x.byteLength)
  for (let j = 0; j < CELLS; j++) {
    const o = j * CELL_WORDS
    cnt[j] = (((theirs.c[j]! - (mine.cells[o]! & 0xff)) & 0xff) << 24) >> 24
    for (let k = 0; k < KEY_WORDS + CHECK_WORDS; k++) d[j * 10 + k] = (v.getUint32(j * WIRE_CELL_BYTES + 4 * k, true) ^ mine.cells[o + 1 + k]!) >>> 0
  }
  const out: Difference = { theirs: [], mine: [] }
  const seen = new Set<string>()
  const queue: number[] = []
  for (let j = 0; j < CELLS; j++) queue.push(j)
  let visits = 0
  while (queue.length > 0) {
    if (++visits > CELLS * (SUBTABLES + 1)) return undefined
    const j = queue.shift()!
    const s = cnt[j]!
    if (s !== 1 && s !== -1) continue
    const w = d.subarray(j * 10, j * 10 + KEY_WORDS).slice()
    if (checkOf(w, 0) !== d[j * 10 + 8] || checkOf(w, 1) !== d[j * 10 + 9]) continue
    // An honest element lives in this cell: its positions must include j.
    let here = false
    for (let t = 0; t < SUBTABLES; t++) if (cellOf(w, t) === j) here = true
    if (!here) return undefined
    const h = new Uint8Array(32)
    for (let k = 0; k < KEY_WORDS; k++) { const x = w[k]!; h[4 * k] = x & 0xff; h[4 * k + 1] = (x >>> 8) & 0xff; h[4 * k + 2] = (x >>> 16) & 0xff; h[4 * k + 3] = x >>> 24 }
    const key = Buffer.from(h).toString('hex')
    if (seen.has(key) || seen.size >= CELLS) return undefined
    seen.add(key)
    ;(s === 1 ? out.theirs : out.mine).push(h)
    const c0 = checkOf(w, 0); const c1 = checkOf(w, 1)
    for (let t = 0; t < SUBTABLES; t++) {
      const p = cellOf(w, t)
      cnt[p] = cnt[p]! - s
      for (let k = 0; k < KEY_WORDS; k++) d[p * 10 + k] = (d[p * 10 + k]! ^ w[k]!) >>> 0
      d[p * 10 + 8] = (d[p * 10 + 8]! ^ c0) >>> 0
      d[p * 10 + 9] = (d[p * 10 + 9]! ^ c1) >>> 0
      if (p !== j) queue.push(p)
    }
  }
  for (let j = 0; j < CELLS; j++) {
    if (cnt[j] !== 0) return undefined
    for (let k = 0; k < KEY_WORDS + CHECK_WORDS; k++) if (d[j * 10 + k] !== 0) return undefined
  }
  return out
}
