/**
 * The link of an append-only entry: what makes an append-only group a signed,
 * hash-linked DAG (docs/RECORDS.md, "Append-only entries").
 *
 *   item body field l = { h: [E…], cc, es, t?, r? }
 *     h   the entry commitments of the heads the author saw (sorted, unique, ≤ MAX_PARENTS)
 *     cc  content commitment = SHA-256("cairn/ao-content/v1" || 0x00 || salt || document JSON)
 *         (the 32-byte salt opens the encrypted plaintext, so a keeper cannot test guesses)
 *     t   'corrects' | 'redacts' (absent: a plain entry), with
 *     r   the entry commitment of the entry it corrects or redacts
 *     es  Ed25519 by the author over "cairn/ao-entry/v1" || 0x00 || E
 *
 *   E = SHA-256("cairn/ao-link/v1" || 0x00 || CBOR [group, id, author, clock, h, cc, t | "", r | h''])
 *
 * E names an entry in links. It covers only fields a re-encryption keeps (it
 * changes key version, iv, ciphertext, signer and prev), so a rotation
 * re-encrypts every entry and every link still resolves; `es` keeps the
 * author's own signature on the entry after an admin re-signs its record.
 * Anyone can check E and es without a key; members also check cc.
 *
 * Pure: no I/O, no key but the author's signing key when making a link.
 */
import { encodeCanonical } from '../crypto/canonical.js'
import { compareBytes, equalBytes } from '../crypto/bytes.js'
import { taggedHash } from '../crypto/hash.js'
import { uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import { sign, signedMessage, verify, type SigningKey } from '../crypto/sign.js'
import { field, malformed, type Body } from './envelope.js'

export const LINK_KINDS = ['corrects', 'redacts'] as const
export type LinkKind = typeof LINK_KINDS[number]

export interface LinkBody extends Body {
  h: Uint8Array[]
  cc: Uint8Array
  es: Uint8Array
  t?: LinkKind
  r?: Uint8Array
}

/** Most heads one entry names; a writer that sees more names the newest (the rest stay heads until a later entry names them). */
export const MAX_PARENTS = 32
export const SALT_BYTES = 32

export function checkLinkBody (v: unknown): LinkBody {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw malformed('link')
  const l = v as Body
  field.exact(l, ['h', 'cc', 'es'], ['t', 'r'])
  field.bytes(l, 'cc', 32); field.bytes(l, 'es', 64)
  const h = l.h
  if (!Array.isArray(h) || h.length > MAX_PARENTS) throw malformed('link parents')
  for (let i = 0; i < h.length; i++) {
    const e = h[i] as unknown
    if (!(e instanceof Uint8Array) || e.length !== 32) throw malformed('link parent')
    if (i > 0 && compareBytes(h[i - 1] as Uint8Array, e) >= 0) throw malformed('link parents not sorted/unique')
  }
  if ((l.t === undefined) !== (l.r === undefined)) throw malformed('link target')
  if (l.t !== undefined) {
    if (!(LINK_KINDS as readonly unknown[]).includes(l.t)) throw malformed('link kind')
    field.bytes(l, 'r', 32)
  }
  return l as LinkBody
}

export interface LinkHeader { groupId: string, recordId: string, author: Uint8Array, clock: Clock }

/** The entry commitment E: what links name. */
export function entryCommitment (hd: LinkHeader, l: Pick<LinkBody, 'h' | 'cc' | 't' | 'r'>): Uint8Array {
  return taggedHash('cairn/ao-link/v1', encodeCanonical([
    uuidToBytes(hd.groupId), uuidToBytes(hd.recordId), hd.author, hd.clock, l.h, l.cc, l.t ?? '', l.r ?? new Uint8Array(0)
  ]))
}

export const contentCommitment = (salt: Uint8Array, documentJson: Uint8Array): Uint8Array =>
  taggedHash('cairn/ao-content/v1', salt, documentJson)

const entryMessage = (e: Uint8Array): Uint8Array => signedMessage('cairn/ao-entry/v1', e)

export interface LinkInput {
  /** Entry commitments of the heads seen (any order; sorted here). */
  parents: Uint8Array[]
  kind?: LinkKind
  target?: Uint8Array
}

/** The author's link for a new entry whose document JSON is `json`, opened by `salt`. */
export function makeLink (author: SigningKey, hd: LinkHeader, inp: LinkInput, salt: Uint8Array, json: Uint8Array): LinkBody {
  if (salt.length !== SALT_BYTES) throw new RangeError('salt must be 32 bytes')
  if ((inp.kind === undefined) !== (inp.target === undefined)) throw new RangeError('a correction or redaction names its target, a plain entry none')
  const h = [...inp.parents].sort(compareBytes).filter((x, i, a) => i === 0 || !equalBytes(a[i - 1]!, x))
  if (h.length > MAX_PARENTS) throw new RangeError(`at most ${MAX_PARENTS} parents`)
  const base = { h, cc: contentCommitment(salt, json), ...(inp.kind !== undefined ? { t: inp.kind, r: inp.target! } : {}) }
  const es = sign(author, entryMessage(entryCommitment(hd, base)))
  return { ...base, es }
}

/** Does `es` verify under the entry's author for commitment `e`? */
export const linkSignatureValid = (author: Uint8Array, e: Uint8Array, l: LinkBody): boolean => verify(author, entryMessage(e), l.es)

/** Two links are the same entry's (byte for byte, as a re-encryption keeps it). */
export const sameLink = (a: LinkBody | undefined, b: LinkBody | undefined): boolean =>
  a === undefined || b === undefined ? a === b : equalBytes(encodeCanonical(a), encodeCanonical(b))
