/**
 * Item payloads shared by the suites, so "the same bytes" means the same thing
 * everywhere: ~1 KiB items (SPEC §8 measures 1 KB payloads). The content is
 * sized so the item's JSON plaintext fits the 1 KiB padding bucket; the sealed,
 * signed envelope is then ~1.3 KiB (sampleEnvelopes reports the exact size).
 */
import { randomBytes } from 'node:crypto'
import { sealItem } from '../../src/records/item.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { makeClock } from '../../src/crypto/hlc.js'

/** Characters of content per item: JSON plaintext ≈ 960 B → 1 KiB bucket. */
export const CONTENT_CHARS = 900

/**
 * A fixed vocabulary of 4,096 pseudo-words (2–9 letters): contents read like
 * text to the search index (bounded vocabulary, ~130 tokens per item), not
 * like random base64, which would give the index a unique token per word.
 */
const VOCAB: string[] = (() => {
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  const r = randomBytes(4096 * 10)
  return Array.from({ length: 4096 }, (_, i) => {
    const len = 2 + (r[i * 10]! % 8)
    let w = ''
    for (let k = 1; k <= len; k++) w += letters[r[i * 10 + k]! % 26]
    return w
  })
})()

/** `n` distinct contents of exactly `chars` characters of words (cycle through them). */
export function contents (n: number, chars = CONTENT_CHARS): string[] {
  return Array.from({ length: n }, () => {
    const idx = randomBytes(chars)
    let s = ''
    for (let i = 0; s.length < chars; i += 2) s += (s === '' ? '' : ' ') + VOCAB[((idx[i % chars]! << 8) | idx[(i + 1) % chars]!) & 4095]
    return s.slice(0, chars)
  })
}

/** The body POSTed to /api/v1/groups/:gid/items and passed to ItemService.create. */
export const itemInput = (content: string): { content: string, type: string } => ({ content, type: 'note' })

/**
 * `n` sealed, signed item envelopes (the bytes the store keeps), built with the
 * real sealItem under a throwaway key. Used by baselines that must write the
 * same bytes as the store path without running it.
 */
export function sampleEnvelopes (n: number): Uint8Array[] {
  const signer = generateSigningKey()
  const key = new Uint8Array(randomBytes(32))
  const gid = newGroupId()
  const cs = contents(Math.min(n, 256))
  const wall = Date.now()
  return Array.from({ length: n }, (_, i) => sealItem({
    signer, groupId: gid, clock: makeClock(wall + (i >> 10), i & 1023), keyVersion: 1, key,
    plain: { type: 'note', content: cs[i % cs.length]!, meta: null, createdAt: wall }
  }).bytes)
}
