/**
 * Length hiding: plaintext is padded to a size bucket before encryption, so a
 * keeper learns only the bucket. Buckets: powers of two from 256 B to 64 KiB, then
 * 64 KiB steps. Padding is ISO/IEC 7816-4 (0x80 then zeros), so it is unambiguous.
 */
import { IntegrityError } from '../util/errors.js'

const MIN = 256
const STEP = 64 * 1024

export function bucketSize (n: number): number {
  const need = n + 1
  if (need <= MIN) return MIN
  if (need <= STEP) return 2 ** Math.ceil(Math.log2(need))
  return Math.ceil(need / STEP) * STEP
}

export function pad (plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(bucketSize(plaintext.length))
  out.set(plaintext, 0)
  out[plaintext.length] = 0x80
  return out
}

export function unpad (padded: Uint8Array): Uint8Array {
  let i = padded.length - 1
  while (i >= 0 && padded[i] === 0) i--
  if (i < 0 || padded[i] !== 0x80) throw new IntegrityError('padding is malformed')
  return padded.subarray(0, i)
}
