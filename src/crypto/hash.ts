import { createHash, createHmac, randomBytes as nodeRandomBytes } from 'node:crypto'
import { utf8 } from './bytes.js'

export const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** SHA-256 with a domain-separation label, so hashes of one kind never stand in for another. */
export const taggedHash = (label: string, ...parts: Uint8Array[]): Uint8Array =>
  sha256(utf8(label), new Uint8Array([0]), ...parts)

export const hmacSha256 = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

export const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n))

