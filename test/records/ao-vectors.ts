/**
 * Inputs of the append-only entry test vectors (test/records/vectors/ao-entries.json):
 * fixed keys, IDs, clocks and randomness, so sealItem produces the same bytes
 * on every run and in any other implementation that follows docs/RECORDS.md.
 */
import { makeClock } from '../../src/crypto/hlc.js'
import type { GroupId } from '../../src/crypto/ids.js'
import { signingKeyFromSeed } from '../../src/crypto/sign.js'
import { entryCommitment, type LinkKind } from '../../src/records/ao-link.js'
import { sealItem, type ItemBody, type ItemPlain } from '../../src/records/item.js'
import type { VerifiedRecord } from '../../src/records/record.js'

const bytes = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i) & 0xff)

export const VECTOR_AUTHOR_SEED = bytes(32, i => i + 1)
export const VECTOR_GROUP = '3f1e6a2c-5b7d-4e8f-9a0b-1c2d3e4f5a6b' as GroupId
export const VECTOR_KEY = bytes(32, () => 0x42)
export const VECTOR_KEY_VERSION = 1

export interface VectorInput { name: string, clock: number, nonce: Uint8Array, iv: Uint8Array, salt: Uint8Array, plain: ItemPlain, parents: number[], kind?: LinkKind, target?: number }

const c0 = makeClock(1_798_761_600_000) // 2027-01-01T00:00:00Z
export const VECTOR_INPUTS: VectorInput[] = [
  { name: 'first entry (no parents)', clock: c0, nonce: bytes(16, i => 0xa0 + i), iv: bytes(12, i => 0x10 + i), salt: bytes(32, i => 0x55 ^ i), plain: { type: 'note', content: 'first entry', meta: null, createdAt: c0 }, parents: [] },
  { name: 'second entry (parent: the first)', clock: c0 + 1024, nonce: bytes(16, i => 0xb0 + i), iv: bytes(12, i => 0x20 + i), salt: bytes(32, i => 0x66 ^ i), plain: { type: 'note', content: { n: 2 }, meta: { tag: 'x' }, createdAt: c0 + 1024 }, parents: [0] },
  { name: 'a correction of the first entry (parent: the second)', clock: c0 + 2048, nonce: bytes(16, i => 0xc0 + i), iv: bytes(12, i => 0x30 + i), salt: bytes(32, i => 0x77 ^ i), plain: { type: 'correction', content: 'first entry, corrected', meta: null, createdAt: c0 + 2048 }, parents: [1], kind: 'corrects', target: 0 }
]

/** Seal the vectors in order (each names the commitments of earlier ones). */
export function sealVectors (): Array<ReturnType<typeof sealItem>> {
  const author = signingKeyFromSeed(VECTOR_AUTHOR_SEED)
  const out: Array<ReturnType<typeof sealItem>> = []
  const commitments: Uint8Array[] = []
  for (const v of VECTOR_INPUTS) {
    const r = sealItem({
      signer: author, groupId: VECTOR_GROUP, clock: v.clock, keyVersion: VECTOR_KEY_VERSION, key: VECTOR_KEY, plain: v.plain,
      link: { parents: v.parents.map(i => commitments[i]!), ...(v.kind !== undefined ? { kind: v.kind, target: commitments[v.target!]! } : {}) },
      fixed: { nonce: v.nonce, iv: v.iv, salt: v.salt }
    })
    out.push(r)
    commitments.push(commitmentOf(r))
  }
  return out
}

export const commitmentOf = (r: VerifiedRecord<ItemBody>): Uint8Array =>
  entryCommitment({ groupId: r.groupId, recordId: r.recordId, author: r.rec.b.a, clock: r.rec.c }, r.rec.b.l!)
