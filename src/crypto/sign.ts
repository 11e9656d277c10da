/**
 * Ed25519. Keys cross module boundaries as raw 32-byte seeds and public keys.
 *
 * Two implementations of the same RFC 8032 signature: libsodium
 * (sodium-native) where its addon loads, ~60 µs a verify and ~24 µs a sign
 * here; node:crypto (OpenSSL) where it does not, ~115 and ~38 µs (noble is 10×
 * slower than either). A keeper verifies every record it receives, so the
 * verify is the largest single cost of a catch-up (docs/PERFORMANCE.md,
 * "Ed25519 on libsodium"). Both sign the same bytes (Ed25519 is
 * deterministic) and accept every signature an honest signer makes.
 * libsodium is the stricter verifier of crafted ones: it also refuses
 * small-order public keys and R values, which only the holder of such a key
 * could use, and only to sign as that key.
 *
 * OpenSSL KeyObjects are cached per public key (building one costs more than a
 * verify), and built for a signing key only when OpenSSL signs.
 */
import { createRequire } from 'node:module'
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { randomBytes } from './hash.js'
import { concat, toB64url } from './bytes.js'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export interface SigningKey {
  /** 32-byte seed: secret. */
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
  /** 64 bytes, seed ‖ public key: libsodium's form of the secret key. Zeroized with the seed. */
  readonly secret: Uint8Array
}

/** The part of sodium-native used here (the package ships no types). */
interface Sodium {
  crypto_sign_seed_keypair (pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached (sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void
  crypto_sign_verify_detached (sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean
}

/** One Ed25519 implementation. */
export interface Ed25519 {
  readonly name: 'libsodium' | 'openssl'
  publicKeyOf: (seed: Uint8Array) => Uint8Array
  sign: (key: SigningKey, message: Uint8Array) => Uint8Array
  /** False for any malformed key or signature; never throws. */
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
}

const privateKeys = new WeakMap<SigningKey, KeyObject>()
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
const privateKeyObject = (seed: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })

export const openssl: Ed25519 = {
  name: 'openssl',
  publicKeyOf: seed => {
    const jwk = createPublicKey(privateKeyObject(seed)).export({ format: 'jwk' })
    return new Uint8Array(Buffer.from(jwk.x!, 'base64url'))
  },
  sign: (key, message) => {
    let ko = privateKeys.get(key)
    if (ko === undefined) { ko = privateKeyObject(key.seed); privateKeys.set(key, ko) }
    return new Uint8Array(nodeSign(null, message, ko))
  },
  verify: (publicKey, message, signature) => {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try { return nodeVerify(null, message, publicKeyObject(publicKey), signature) } catch { return false }
  }
}

function libsodium (na: Sodium): Ed25519 {
  return {
    name: 'libsodium',
    publicKeyOf: seed => {
      const pk = new Uint8Array(32); const sk = new Uint8Array(64)
      na.crypto_sign_seed_keypair(pk, sk, seed)
      sk.fill(0)
      return pk
    },
    sign: (key, message) => {
      const sig = new Uint8Array(64)
      na.crypto_sign_detached(sig, message, key.secret)
      return sig
    },
    verify: (publicKey, message, signature) => {
      if (publicKey.length !== 32 || signature.length !== 64) return false
      try { return na.crypto_sign_verify_detached(signature, message, publicKey) } catch { return false }
    }
  }
}

/**
 * The implementation in use and how it came to be: `whyNot`, why libsodium is
 * not it when it could not be used; `chosen`, OpenSSL was asked for (useEd25519).
 */
interface Loaded { impl: Ed25519, whyNot?: string, chosen?: true }
export type Ed25519State = Omit<Loaded, 'impl'> & { name: Ed25519['name'] }

/** libsodium if its addon loads here, and why not if it does not. */
function load (): Loaded {
  try {
    const require = createRequire(import.meta.url)
    const na = require('sodium-native') as Sodium
    const impl = libsodium(na)
    // A self-test: an addon that loads but disagrees with OpenSSL is not used.
    const k = keyWith(impl, new Uint8Array(32).fill(7))
    const m = new Uint8Array([1, 2, 3])
    const sig = impl.sign(k, m)
    if (!openssl.verify(k.publicKey, m, sig) || !impl.verify(k.publicKey, m, openssl.sign(k, m))) return { impl: openssl, whyNot: 'its signatures did not match OpenSSL\'s' }
    return { impl }
  } catch (e) {
    return { impl: openssl, whyNot: e instanceof Error ? e.message.split('\n')[0]! : String(e) }
  }
}

function keyWith (impl: Ed25519, seed: Uint8Array): SigningKey {
  const publicKey = impl.publicKeyOf(seed)
  return { seed: new Uint8Array(seed), publicKey, secret: concat(seed, publicKey) }
}

/** Loaded on first use: the addon takes ~15 ms to load, which a CLI verb that signs nothing should not pay. */
let loaded: Loaded | undefined
const current = (): Loaded => (loaded ??= load())
const impl = (): Ed25519 => current().impl

/** The implementation this process uses, and why (Loaded). */
export function ed25519Impl (): Ed25519State {
  const { impl: i, ...how } = current()
  return { name: i.name, ...how }
}

/**
 * Which implementation to use from now on (the node's `crypto.ed25519`). Safe at
 * any time: a signing key holds both forms of its secret, and the two make the
 * same signatures. libsodium, if its addon does not load, is OpenSSL with `whyNot`.
 */
export function useEd25519 (name: Ed25519['name']): void {
  if (name === 'openssl') loaded = { impl: openssl, chosen: true }
  else if (loaded === undefined || loaded.chosen === true) loaded = load()
}

export function signingKeyFromSeed (seed: Uint8Array): SigningKey {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes')
  return keyWith(impl(), seed)
}

export const generateSigningKey = (): SigningKey => signingKeyFromSeed(randomBytes(32))

/** Zeroize a signing key's secret bytes (both forms); OpenSSL's copy, if one was made, is dropped for the GC. */
export function forgetSigningKey (key: SigningKey | undefined): void {
  if (key === undefined) return
  key.seed.fill(0)
  key.secret.fill(0)
  privateKeys.delete(key)
}

/** Throws for a key `forgetSigningKey` zeroized (its public-key half is never all zeros otherwise). */
export function sign (key: SigningKey, message: Uint8Array): Uint8Array {
  if (key.secret.subarray(32).every(b => b === 0)) throw new Error('this signing key was zeroized (the vault locked): unlock to sign')
  return impl().sign(key, message)
}

/** False for any malformed key or signature; never throws on hostile input. */
export const verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => impl().verify(publicKey, message, signature)

/** Domain-separated message: label || 0x00 || body. */
export const signedMessage = (label: string, body: Uint8Array): Uint8Array =>
  concat(new TextEncoder().encode(label), new Uint8Array([0]), body)
