/**
 * Identifier formats (documented in docs/IDENTITY.md).
 * - EntityId: bech32m with prefix "cairn", data = the 32-byte Ed25519 public key,
 *   e.g. cairn1q…: knowing the ID is enough to verify signatures and wrap keys for it;
 *   the checksum catches typos.
 * - GroupId: random UUID v4 (nothing derives it from an entity).
 * - RecordId / ItemId: UUID-formatted (version nibble 8) domain-separated hash,
 *   so an item ID is bound to its author (nobody else can claim it) and per-kind
 *   record IDs are deterministic.
 */
import { bech32m } from '@scure/base'
import { randomUUID } from 'node:crypto'
import { InvalidInputError } from '../util/errors.js'
import { taggedHash } from './hash.js'
import { utf8 } from './bytes.js'

declare const brand: unique symbol
type Brand<T, B> = T & { readonly [brand]: B }
export type EntityId = Brand<string, 'EntityId'>
export type GroupId = Brand<string, 'GroupId'>
export type RecordId = Brand<string, 'RecordId'>

const ENTITY_PREFIX = 'cairn'
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const UUID4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

export function entityIdFromPublicKey (pub: Uint8Array): EntityId {
  if (pub.length !== 32) throw new RangeError('entity public key must be 32 bytes')
  return bech32m.encode(ENTITY_PREFIX, bech32m.toWords(pub)) as EntityId
}

/** Throws InvalidInputError for anything that is not a well-formed entity ID. */
export function publicKeyFromEntityId (id: string): Uint8Array {
  try {
    const { prefix, words } = bech32m.decode(id as `${string}1${string}`)
    if (prefix !== ENTITY_PREFIX) throw new Error('prefix')
    const pub = new Uint8Array(bech32m.fromWords(words))
    if (pub.length !== 32) throw new Error('length')
    return pub
  } catch {
    throw new InvalidInputError(`not a cairn entity ID: ${JSON.stringify(String(id).slice(0, 80))} (expected cairn1…)`)
  }
}

export function isEntityId (id: unknown): id is EntityId {
  if (typeof id !== 'string' || id.length > 100) return false
  try { publicKeyFromEntityId(id); return true } catch { return false }
}

export const newGroupId = (): GroupId => randomUUID() as GroupId
export const isGroupId = (s: unknown): s is GroupId => typeof s === 'string' && UUID4_RE.test(s)
export const isRecordId = (s: unknown): s is RecordId => typeof s === 'string' && UUID_RE.test(s)

export function uuidToBytes (u: string): Uint8Array {
  if (!UUID_RE.test(u)) throw new InvalidInputError('malformed UUID')
  return new Uint8Array(Buffer.from(u.replace(/-/g, ''), 'hex'))
}

/** A group ID off the wire (16 bytes): a UUID, of whatever version a peer sent (no group holds it unless its chain says so). */
export const groupIdFromBytes = (b: Uint8Array): GroupId => bytesToUuid(b) as GroupId

export function bytesToUuid (b: Uint8Array): string {
  if (b.length !== 16) throw new InvalidInputError('UUID must be 16 bytes')
  const h = Buffer.from(b.buffer, b.byteOffset, 16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** A UUIDv8-shaped ID from a domain-separated hash of its parts. */
export function derivedId (label: string, ...parts: Uint8Array[]): RecordId {
  const h = taggedHash(`cairn/id/${label}/v1`, ...parts).subarray(0, 16)
  h[6] = (h[6]! & 0x0f) | 0x80
  h[8] = (h[8]! & 0x3f) | 0x80
  return bytesToUuid(h) as RecordId
}

export const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
export { utf8 }
