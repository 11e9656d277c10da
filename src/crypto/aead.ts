/**
 * Authenticated encryption.
 * - AES-256-GCM (node:crypto, OpenSSL) for item content: the hot path.
 * - XChaCha20-Poly1305 (@noble/ciphers) for key wraps and the vault: 192-bit
 *   random nonces make nonce reuse a non-issue for long-lived keys.
 * Both fail closed with IntegrityError; no partial plaintext ever escapes.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { IntegrityError } from '../util/errors.js'
import { randomBytes } from './hash.js'
import { plain } from './bytes.js'

export const GCM_IV_BYTES = 12
export const GCM_TAG_BYTES = 16
export const XCHACHA_NONCE_BYTES = 24

export interface Sealed { iv: Uint8Array, ct: Uint8Array }

/** AES-256-GCM; `ct` is ciphertext || 16-byte tag. */
export function gcmEncrypt (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, iv: Uint8Array = randomBytes(GCM_IV_BYTES)): Sealed {
  if (key.length !== 32) throw new RangeError('AES-256-GCM key must be 32 bytes')
  const c = createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(aad)
  const body = c.update(plaintext)
  const fin = c.final()
  const tag = c.getAuthTag()
  const ct = new Uint8Array(body.length + fin.length + tag.length)
  ct.set(body, 0); ct.set(fin, body.length); ct.set(tag, body.length + fin.length)
  return { iv, ct }
}

export function gcmDecrypt (key: Uint8Array, iv: Uint8Array, ct: Uint8Array, aad: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError('AES-256-GCM key must be 32 bytes')
  if (iv.length !== GCM_IV_BYTES || ct.length < GCM_TAG_BYTES) throw new IntegrityError('ciphertext is malformed')
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv)
    d.setAAD(aad)
    d.setAuthTag(ct.subarray(ct.length - GCM_TAG_BYTES))
    const a = d.update(ct.subarray(0, ct.length - GCM_TAG_BYTES))
    const b = d.final()
    return b.length === 0 ? new Uint8Array(a.buffer, a.byteOffset, a.length) : new Uint8Array(Buffer.concat([a, b]))
  } catch {
    throw new IntegrityError('ciphertext failed authentication (tampered, or the wrong key)')
  }
}

export function xchachaEncrypt (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nonce: Uint8Array = randomBytes(XCHACHA_NONCE_BYTES)): { nonce: Uint8Array, ct: Uint8Array } {
  const ct = xchacha20poly1305(plain(key), plain(nonce), plain(aad)).encrypt(plain(plaintext))
  return { nonce, ct }
}

export function xchachaDecrypt (key: Uint8Array, nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array): Uint8Array {
  if (nonce.length !== XCHACHA_NONCE_BYTES) throw new IntegrityError('nonce is malformed')
  try {
    return xchacha20poly1305(plain(key), plain(nonce), plain(aad)).decrypt(plain(ct))
  } catch {
    throw new IntegrityError('sealed data failed authentication (tampered, or the wrong key)')
  }
}
