/**
 * Circle keys rebuilt by an unseal, held in memory only, per group and key
 * version, until seal() or the TTL. Every buffer is zeroized when it goes.
 */
import type { GroupId } from '../crypto/ids.js'
import { zeroize } from '../crypto/bytes.js'

interface Entry { keys: Map<number, Uint8Array>, expiresAt: number, timer: NodeJS.Timeout }

export class UnsealedKeys {
  private readonly groups = new Map<GroupId, Entry>()
  private readonly listeners: Array<(gid: GroupId, why: 'sealed' | 'expired') => void> = []

  /** Hold `key` for `ttlMs` from `now` (a caller that computed the TTL from an expiry passes the `now` it used: the expiry then stays exact). */
  put (gid: GroupId, kv: number, key: Uint8Array, ttlMs: number, now = Date.now()): number {
    let e = this.groups.get(gid)
    const expiresAt = now + ttlMs
    if (e === undefined) {
      e = { keys: new Map(), expiresAt, timer: this.arm(gid, ttlMs) }
      this.groups.set(gid, e)
    } else if (expiresAt > e.expiresAt) {
      clearTimeout(e.timer)
      e.expiresAt = expiresAt
      e.timer = this.arm(gid, ttlMs)
    }
    const old = e.keys.get(kv)
    if (old !== undefined) zeroize(old)
    e.keys.set(kv, new Uint8Array(key))
    return e.expiresAt
  }

  private arm (gid: GroupId, ttlMs: number): NodeJS.Timeout {
    const t = setTimeout(() => { this.drop(gid, 'expired') }, ttlMs)
    t.unref()
    return t
  }

  get (gid: GroupId, kv: number): Uint8Array | undefined { return this.groups.get(gid)?.keys.get(kv) }
  isUnsealed (gid: GroupId): boolean { return this.groups.has(gid) }
  expiresAt (gid: GroupId): number | undefined { return this.groups.get(gid)?.expiresAt }
  versions (gid: GroupId): number[] { return [...(this.groups.get(gid)?.keys.keys() ?? [])] }

  seal (gid: GroupId): boolean { return this.drop(gid, 'sealed') }

  sealAll (): void { for (const g of [...this.groups.keys()]) this.drop(g, 'sealed') }

  onDrop (fn: (gid: GroupId, why: 'sealed' | 'expired') => void): void { this.listeners.push(fn) }

  private drop (gid: GroupId, why: 'sealed' | 'expired'): boolean {
    const e = this.groups.get(gid)
    if (e === undefined) return false
    clearTimeout(e.timer)
    for (const k of e.keys.values()) zeroize(k)
    e.keys.clear()
    this.groups.delete(gid)
    for (const l of this.listeners) l(gid, why)
    return true
  }
}
