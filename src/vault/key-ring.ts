/** Versioned group keys: encrypt with the newest, decrypt with the version an item names. */
import { zeroize } from '../crypto/bytes.js'

export interface RingEntry { version: number, key: Uint8Array, createdAt: number, retiredAt: number | null }

export class KeyRing {
  private readonly entries = new Map<number, RingEntry>()

  constructor (entries: RingEntry[] = []) { for (const e of entries) this.entries.set(e.version, e) }

  get (version: number): Uint8Array | undefined { return this.entries.get(version)?.key }
  has (version: number): boolean { return this.entries.has(version) }
  latest (): RingEntry | undefined {
    let best: RingEntry | undefined
    for (const e of this.entries.values()) if (best === undefined || e.version > best.version) best = e
    return best
  }

  /** Adds a version; retires the previous latest when the new one is newer. */
  add (version: number, key: Uint8Array, at = Date.now()): void {
    if (this.entries.has(version)) return
    const prev = this.latest()
    if (prev !== undefined && prev.version < version && prev.retiredAt === null) prev.retiredAt = at
    this.entries.set(version, { version, key: new Uint8Array(key), createdAt: at, retiredAt: prev !== undefined && prev.version > version ? at : null })
  }

  list (): RingEntry[] { return [...this.entries.values()].sort((a, b) => a.version - b.version) }
  get size (): number { return this.entries.size }

  zeroize (): void {
    for (const e of this.entries.values()) zeroize(e.key)
    this.entries.clear()
  }
}
