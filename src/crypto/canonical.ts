/**
 * Deterministic CBOR (RFC 8949 §4.2, via cborg: minimal integers, sorted map keys,
 * no indefinite lengths, no floats in our schemas). Decoding is strict: duplicate
 * keys or non-minimal encodings are rejected, so one value has exactly one byte
 * string and record hashes cannot be malleated.
 *
 * Every decode of bytes from outside (records, channel messages, the vault
 * file) is depth-bounded: cborg's decoder recurses once per nesting level, so
 * 2 MiB of 0x81 bytes would otherwise run it off the stack. Our formats nest
 * at most 6 levels; the bound is checked token by token, before any value is built.
 */
import { encode as cborEncode, decode as cborDecode, Tokenizer, type Token } from 'cborg'
import { IntegrityError } from '../util/errors.js'
import { equalBytes } from './bytes.js'

export type Canonical = unknown

/** Deepest nesting any cairn message or record uses, with room to grow. */
export const MAX_CBOR_DEPTH = 32

export const STRICT_DECODE = { strict: true, rejectDuplicateMapKeys: true, useMaps: false, allowUndefined: false, allowIndefinite: false, allowInfinity: false, allowNaN: false } as const

export function encodeCanonical (value: Canonical): Uint8Array {
  return cborEncode(value)
}

/**
 * cborg's own tokenizer, counting open containers: a stack of how many
 * children each still expects. A container stays on the stack until its last
 * child is complete, so its length is the nesting depth at this token.
 */
class DepthLimitedTokenizer {
  private readonly inner: InstanceType<typeof Tokenizer>
  private readonly open: number[] = []

  constructor (data: Uint8Array, options: object, private readonly maxDepth: number) {
    this.inner = new Tokenizer(data, options)
  }

  done (): boolean { return this.inner.done() }
  pos (): number { return this.inner.pos() }

  next (): Token {
    const t = this.inner.next()
    if (this.open.length > 0) this.open[this.open.length - 1]!--
    const major = t.type.major // 4 array, 5 map, 6 tag: the containers
    const children = major === 4 ? t.value as number : major === 5 ? 2 * (t.value as number) : major === 6 ? 1 : 0
    if (children > 0) {
      if (this.open.length >= this.maxDepth) throw new Error(`CBOR nested deeper than ${this.maxDepth} levels`)
      this.open.push(children)
    } else {
      while (this.open.length > 0 && this.open[this.open.length - 1] === 0) this.open.pop()
    }
    return t
  }
}

/** cborg.decode with a nesting bound; throws what cborg throws (callers wrap it in their own error). */
export function decodeBounded (bytes: Uint8Array, options: object = STRICT_DECODE, maxDepth = MAX_CBOR_DEPTH): unknown {
  // As cborg.decode itself does: its defaults under ours, and a plain Uint8Array view (a Buffer's slices would stay Buffers).
  const opts = { strict: false, allowIndefinite: true, allowUndefined: true, allowBigInt: true, ...options }
  const data = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes
  return cborDecode(data, { ...opts, tokenizer: new DepthLimitedTokenizer(data, opts, maxDepth) })
}

/** Strict decode; also requires that re-encoding yields the same bytes. */
export function decodeCanonical (bytes: Uint8Array): unknown {
  let v: unknown
  try {
    v = decodeBounded(bytes)
  } catch (e) {
    throw new IntegrityError(`malformed encoding: ${(e as Error).message}`)
  }
  let again: Uint8Array
  try { again = cborEncode(v) } catch { throw new IntegrityError('malformed encoding: not re-encodable') }
  if (!equalBytes(again, bytes)) throw new IntegrityError('non-canonical encoding')
  return v
}
