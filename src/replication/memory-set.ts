/** An in-memory SetView (sorted hashes + SyncIndex): the reference side in tests and benchmarks. */
import { compareBytes } from '../crypto/bytes.js'
import type { SetView } from './reconcile.js'
import type { Iblt } from './iblt.js'
import { nodeBounds, summarise, SyncIndex, type NodeSummary } from './sync-index.js'

export class MemorySet implements SetView {
  private sorted: Uint8Array[]
  private index: SyncIndex

  constructor (hashes: Uint8Array[]) {
    this.sorted = [...hashes].sort(compareBytes)
    this.index = SyncIndex.build(this.sorted, this.sorted.length)
  }

  get size (): number { return this.sorted.length }
  has (h: Uint8Array): boolean { return this.find(h) >= 0 }
  all (): Uint8Array[] { return this.sorted }

  add (h: Uint8Array): void {
    const i = this.find(h)
    if (i >= 0) return
    this.sorted.splice(-i - 1, 0, h)
    this.index.add(h)
    if (this.index.outgrown()) this.index = SyncIndex.build(this.sorted, this.sorted.length)
  }

  iblt (): Iblt { return this.index.iblt }
  held (hs: Uint8Array[]): Uint8Array[] { return hs.filter(h => this.has(h)) }
  adjusted (d: number, i: number, plus: Uint8Array[], minus: Uint8Array[]): NodeSummary | undefined { return this.index.adjusted(d, i, plus, minus) }

  summary (d: number, i: number): NodeSummary {
    return this.index.node(d, i) ?? summarise(this.elements(d, i))
  }

  elements (d: number, i: number): Uint8Array[] {
    const { lo, hi } = nodeBounds(d, i)
    const a = this.lowerBound(lo)
    const b = hi === undefined ? this.sorted.length : this.lowerBound(hi)
    return this.sorted.slice(a, b)
  }

  private lowerBound (x: Uint8Array): number {
    let lo = 0; let hi = this.sorted.length
    while (lo < hi) { const m = (lo + hi) >> 1; if (compareBytes(this.sorted[m]!, x) < 0) lo = m + 1; else hi = m }
    return lo
  }

  private find (h: Uint8Array): number {
    const i = this.lowerBound(h)
    return i < this.sorted.length && compareBytes(this.sorted[i]!, h) === 0 ? i : -i - 1
  }
}
