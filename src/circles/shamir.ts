/**
 * Threshold split of a circle key (shamir-secret-sharing: GF(2^8), each share
 * is secret length + 1 byte, the x-coordinate last) plus the public checks that
 * make a rebuilt key trustworthy:
 *   commitment_i = SHA-256("cairn/circle-share/v1" || group || kv || sv || member || share_i)
 *   kcv          = HMAC-SHA256(key, "cairn/circle-kcv/v1" || group || kv)
 * A share that does not match its commitment is rejected and its holder named;
 * a combined key that does not match the kcv is never used (combining fewer than
 * K shares silently yields wrong bytes, so this check is not optional).
 */
import { combine, split } from 'shamir-secret-sharing'
import { concat, equalBytes, plain, utf8, zeroize } from '../crypto/bytes.js'
import { hmacSha256, taggedHash } from '../crypto/hash.js'
import { u32, uuidToBytes, type GroupId } from '../crypto/ids.js'

export async function splitKey (key: Uint8Array, n: number, k: number): Promise<Uint8Array[]> {
  return await split(plain(key), n, k)
}

export const shareX = (share: Uint8Array): number => share[share.length - 1]!

export function commitment (gid: GroupId, kv: number, sv: number, member: Uint8Array, share: Uint8Array): Uint8Array {
  return taggedHash('cairn/circle-share/v1', uuidToBytes(gid), u32(kv), u32(sv), member, share)
}

export function keyCheckValue (key: Uint8Array, gid: GroupId, kv: number): Uint8Array {
  return hmacSha256(key, concat(utf8('cairn/circle-kcv/v1'), uuidToBytes(gid), u32(kv)))
}

/** Combine shares and check the result against the kcv; undefined if it does not match. */
export async function combineChecked (shares: Uint8Array[], gid: GroupId, kv: number, kcv: Uint8Array): Promise<Uint8Array | undefined> {
  const key = await combine(shares.map(plain))
  if (equalBytes(keyCheckValue(key, gid, kv), kcv)) return key
  zeroize(key)
  return undefined
}
