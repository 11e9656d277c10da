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

/**
 * taggedHash for hot loops over hex-encoded chains (the audit log): the label
 * is encoded once, the previous hash goes in as hex and the text as UTF-8
 * without a TextEncoder round trip, the digest comes out as hex. Same bytes as
 * toHex(taggedHash(label, fromHex(prevHex), utf8(text))).
 */
export function taggedHexHasher (label: string): (prevHex: string, text: string) => string {
  const prefix = Buffer.concat([Buffer.from(label, 'utf8'), Buffer.from([0])])
  return (prevHex, text) => createHash('sha256').update(prefix).update(prevHex, 'hex').update(text, 'utf8').digest('hex')
}

export const hmacSha256 = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

export const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n))

