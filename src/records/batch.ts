/**
 * Batch signatures: one Ed25519 signature over a Merkle root stands for up to
 * MAX_BATCH_LEAVES records, each carrying its inclusion proof (docs/RECORDS.md,
 * "Batch-signed records"). This file is the tree and the signature check only;
 * the record format around it is envelope.ts.
 *
 *   leaf = SHA-256("cairn/batch-leaf/v1" ‖ 0x00 ‖ M)          M: what a single signature would cover
 *   node = SHA-256("cairn/batch-node/v1" ‖ 0x00 ‖ left ‖ right)
 *   tree = RFC 9162 §2.1.1 (left subtree: the largest power of two below n)
 *   R    = "cairn/batch-root/v1" ‖ 0x00 ‖ CBOR [group(16), n, root(32)]   (what the signer signs)
 *
 * Invariants: a leaf and a node never hash the same preimage (their labels
 * differ); a path is accepted only at exactly the length the tree shape of
 * (i, n) gives (RFC 9162 §2.1.3.2); n ≤ MAX_BATCH_LEAVES, so a path has at most
 * MAX_PATH hashes; only verified roots are cached, the cache is bounded.
 */
import { encodeCanonical } from '../crypto/canonical.js'
import { concat, equalBytes, toB64, utf8 } from '../crypto/bytes.js'
import { sha256 } from '../crypto/hash.js'
import { verify } from '../crypto/sign.js'

/** Records under one root: one re-encryption job step (1,000) fits. */
export const MAX_BATCH_LEAVES = 1024
/** ⌈log₂ MAX_BATCH_LEAVES⌉: the longest inclusion path. */
export const MAX_PATH = 10

const LEAF = concat(utf8('cairn/batch-leaf/v1'), new Uint8Array([0]))
const NODE = concat(utf8('cairn/batch-node/v1'), new Uint8Array([0]))
const ROOT = concat(utf8('cairn/batch-root/v1'), new Uint8Array([0]))

/** The leaf of a record whose signed message is the concatenation of `parts`. */
export const leafHash = (...parts: Uint8Array[]): Uint8Array => sha256(LEAF, ...parts)
const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => sha256(NODE, l, r)

/** The largest power of two strictly below n (n ≥ 2). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** The root over `leaves` and each leaf's inclusion path, leaf to root. */
export function merkle (leaves: Uint8Array[]): { root: Uint8Array, paths: Uint8Array[][] } {
  if (leaves.length === 0 || leaves.length > MAX_BATCH_LEAVES) throw new RangeError(`a batch holds 1 to ${MAX_BATCH_LEAVES} records, not ${leaves.length}`)
  const paths: Uint8Array[][] = leaves.map(() => [])
  // Children first, so each leaf's path gets its deepest sibling first.
  const subtree = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leaves[lo]!
    const mid = lo + split(hi - lo)
    const l = subtree(lo, mid)
    const r = subtree(mid, hi)
    for (let i = lo; i < mid; i++) paths[i]!.push(r)
    for (let i = mid; i < hi; i++) paths[i]!.push(l)
    return nodeHash(l, r)
  }
  return { root: subtree(0, leaves.length), paths }
}

/** RFC 9162 §2.1.3.2: the root `path` leads to from leaf `i` of `n`, or undefined if its shape is wrong. */
export function rootFromPath (leaf: Uint8Array, i: number, n: number, path: readonly Uint8Array[]): Uint8Array | undefined {
  if (!Number.isSafeInteger(i) || !Number.isSafeInteger(n) || n < 1 || n > MAX_BATCH_LEAVES || i < 0 || i >= n || path.length > MAX_PATH) return undefined
  let fn = i
  let sn = n - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return undefined // longer than the tree is deep
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r)
      if ((fn & 1) === 0) while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1 }
    } else {
      r = nodeHash(r, p)
    }
    fn >>= 1; sn >>= 1
  }
  return sn === 0 ? r : undefined // shorter than the tree is deep
}

/** What the signer signs for a batch: its group, its size and its root. */
export const rootMessage = (group: Uint8Array, n: number, root: Uint8Array): Uint8Array => concat(ROOT, encodeCanonical([group, n, root]))

const isRootMessage = (m: Uint8Array): boolean => m.length > ROOT.length && equalBytes(m.subarray(0, ROOT.length), ROOT)

/** Verified (signer, R, sig) of this thread, oldest first (Map keeps insertion order). */
const verifiedRoots = new Map<string, true>()
const ROOT_CACHE = 4096
let rootVerifies = 0

/**
 * The one signature check of a record, on any thread: a batch root is verified
 * once and remembered (so a batch of 1,000 costs one Ed25519 verify, then
 * hashing), a single signature every time (each is over a different message).
 */
export function verifyRecordSignature (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isRootMessage(message)) return verify(publicKey, message, signature)
  const key = toB64(concat(publicKey, signature, message))
  if (verifiedRoots.has(key)) return true
  rootVerifies++
  if (!verify(publicKey, message, signature)) return false
  if (verifiedRoots.size >= ROOT_CACHE) verifiedRoots.delete(verifiedRoots.keys().next().value!)
  verifiedRoots.set(key, true)
  return true
}

/** This thread's root cache: roots kept, and Ed25519 verifies of roots so far (tests, diagnostics). */
export const rootCacheStats = (): { size: number, verifies: number } => ({ size: verifiedRoots.size, verifies: rootVerifies })
