/**
 * `cairn start` with a passphrase: the vault key's scrypt (~0.3 s of libuv's
 * thread pool, 128 MiB) begins before the daemon's modules load (~1 s of the
 * main thread), so the two overlap instead of following each other; the
 * daemon's unlock then takes the key already derived (vault/remembered-kdf.ts).
 * Nothing is decided here: a missing or damaged vault file, or a wrong
 * passphrase, is found and reported by that unlock exactly as before. Light on
 * purpose (no vault, libp2p or SQLite modules): it runs before they load.
 */
import { readFileSync } from 'node:fs'
import { decodeCanonical } from '../crypto/canonical.js'
import { dataPaths } from '../util/data-paths.js'
import { RememberedKdf } from '../vault/remembered-kdf.js'

/** Starts deriving the key of the vault in `dataDir`; undefined when its file cannot be read (the unlock will say why). */
export function deriveEarly (dataDir: string, passphrase: string): RememberedKdf | undefined {
  let b: Record<string, unknown>
  try { b = decodeCanonical(new Uint8Array(readFileSync(dataPaths(dataDir).vault))) as Record<string, unknown> } catch { return undefined }
  const { N, r, p, salt } = b
  // The bounds of records/vault-backup.ts checkVaultBody: nothing else is derived.
  if (!isUint(N, 2 ** 24) || !isUint(r, 64) || !isUint(p, 16) || !(salt instanceof Uint8Array) || salt.length !== 16) return undefined
  const keys = new RememberedKdf()
  keys.kdf(passphrase, salt, { N, r, p }).then(k => { k.fill(0) }, () => { /* the unlock derives again and reports it */ })
  return keys
}

const isUint = (x: unknown, max: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max
