/** Small byte helpers shared by every crypto module. Pure, no I/O. */
import { timingSafeEqual } from 'node:crypto'

export const concat = (...parts: Uint8Array[]): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const fromUtf8 = (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(b)

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
export const toB64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
export const toB64url = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')

/** Constant-time equality; different lengths compare unequal. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return timingSafeEqual(a, b)
}

/** Plain Uint8Array copy (some libraries reject Node Buffers). */
export const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b)

/** Overwrite key material in place. */
export function zeroize (...bufs: Array<Uint8Array | undefined | null>): void {
  for (const b of bufs) b?.fill(0)
}

export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
