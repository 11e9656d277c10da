/**
 * Deterministic CBOR (RFC 8949 §4.2, via cborg: minimal integers, sorted map keys,
 * no indefinite lengths, no floats in our schemas). Decoding is strict: duplicate
 * keys or non-minimal encodings are rejected, so one value has exactly one byte
 * string and record hashes cannot be malleated.
 */
import { encode as cborEncode, decode as cborDecode } from 'cborg'
import { IntegrityError } from '../util/errors.js'
import { equalBytes } from './bytes.js'

export type Canonical = unknown

export function encodeCanonical (value: Canonical): Uint8Array {
  return cborEncode(value)
}

/** Strict decode; also requires that re-encoding yields the same bytes. */
export function decodeCanonical (bytes: Uint8Array): unknown {
  let v: unknown
  try {
    v = cborDecode(bytes, { strict: true, rejectDuplicateMapKeys: true, useMaps: false, allowUndefined: false, allowIndefinite: false, allowInfinity: false, allowNaN: false })
  } catch (e) {
    throw new IntegrityError(`malformed encoding: ${(e as Error).message}`)
  }
  let again: Uint8Array
  try { again = cborEncode(v) } catch { throw new IntegrityError('malformed encoding: not re-encodable') }
  if (!equalBytes(again, bytes)) throw new IntegrityError('non-canonical encoding')
  return v
}
