/**
 * Ed25519 with node:crypto KeyObjects (≈30k signs/s, 10k verifies/s here; noble
 * is 10× slower). Keys cross module boundaries as raw 32-byte seeds/public keys;
 * KeyObjects are cached per public key because building one costs more than a verify.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { randomBytes } from './hash.js'
import { concat, toB64url } from './bytes.js'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export interface SigningKey {
  /** 32-byte seed: secret. */
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
  readonly keyObject: KeyObject
}

export function signingKeyFromSeed (seed: Uint8Array): SigningKey {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes')
  const keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(keyObject).export({ format: 'der', type: 'spki' })
  return { seed: new Uint8Array(seed), publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)), keyObject }
}

export const generateSigningKey = (): SigningKey => signingKeyFromSeed(randomBytes(32))

const pubCache = new Map<string, KeyObject>()
function publicKeyObject (pub: Uint8Array): KeyObject {
  const x = toB64url(pub)
  let ko = pubCache.get(x)
  if (ko === undefined) {
    // JWK, not DER: 10× faster to import here (keywrap.ts).
    ko = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
    if (pubCache.size > 10_000) pubCache.clear()
    pubCache.set(x, ko)
  }
  return ko
}

export function sign (key: SigningKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, key.keyObject))
}

/** False for any malformed key or signature; never throws on hostile input. */
export function verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/** Domain-separated message: label || 0x00 || body. */
export const signedMessage = (label: string, body: Uint8Array): Uint8Array =>
  concat(new TextEncoder().encode(label), new Uint8Array([0]), body)
