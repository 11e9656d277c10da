import { scrypt as nodeScrypt, hkdfSync } from 'node:crypto'
import { utf8 } from './bytes.js'

export interface ScryptParams { N: number, r: number, p: number }
/** SPEC §2: N=2^17, r=8, p=1 (≈128 MiB, ≈0.3–0.5 s here). */
export const VAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 }

/** A passphrase → key derivation: scrypt, or what a caller puts in its place (vault/remembered-kdf.ts). */
export type Kdf = (passphrase: string, salt: Uint8Array, params: ScryptParams) => Promise<Uint8Array>

/** Runs on libuv's thread pool so the daemon keeps serving while it works. */
export function scrypt (passphrase: string, salt: Uint8Array, params: ScryptParams, length = 32): Promise<Uint8Array> {
  const maxmem = 256 * params.N * params.r + 1024 * 1024
  return new Promise((resolve, reject) => {
    nodeScrypt(passphrase.normalize('NFKC'), salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err != null) reject(err)
      else resolve(new Uint8Array(key))
    })
  })
}

export function hkdf (ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, typeof info === 'string' ? utf8(info) : info, length))
}
