/**
 * Acceptance gates (SPEC §4): what a record must satisfy, beyond a valid
 * signature and shape, to be stored. Pure; the same function judges records
 * written locally, pushed over gossipsub and fetched by sync, so a node never
 * stores what it would refuse from a peer.
 *
 * Rules, for a record with clock c, signer s, in a group whose chain is known:
 *  - c is not further in the future than `maxSkewMs`.
 *  - D = the descriptor version in force at c must exist.
 *  - item: ID derives from (author, nonce); the author is a writer in D;
 *      kv ≥ D.kv (a writer encrypts under the key current at its clock; a
 *        re-encryption keeps the old clock and moves to a newer key);
 *      signer = author: if kv > D.kv the author was still a writer in the
 *        version that introduced kv;
 *      signer ≠ author (owner/admin edit or re-encryption): signer is owner/admin
 *        in D or in the version that introduced kv.
 *    A key version must exist in the chain and must not be one retired before c.
 *  - key/share envelope: signer owner/admin in D; recipient a member of D; kv
 *    exists (key version 0 of a circle: its metadata key, for the name only).
 *  - bind: signer is a member of D and names a peer.
 *  - vault: signer is the owner of D (personal group).
 *  - append-only groups: an item version never replaces an earlier one.
 */
import { equalBytes } from '../crypto/bytes.js'
import { clockWall, type Clock } from '../crypto/hlc.js'
import { itemIdFor, type ItemBody } from '../records/item.js'
import { canAdmin, canWrite, type DescBody } from '../records/descriptor.js'
import type { KeyBody } from '../records/key-envelope.js'
import type { ShareBody } from '../records/share-envelope.js'
import type { VerifiedRecord } from '../records/record.js'
import { roleIn, type DescriptorChain } from './descriptor-chain.js'

export type RejectReason =
  | 'malformed' | 'too-large' | 'bad-signature' | 'unknown-group' | 'future-clock' | 'before-group'
  | 'bad-id' | 'not-a-member' | 'read-only' | 'not-admin' | 'not-owner' | 'bad-key-version' | 'stale-key'
  | 'replay' | 'append-only' | 'descriptor-gap' | 'descriptor-fork' | 'stale-clock' | 'circle-changed'
  | 'append-only-changed' | 'duplicate' | 'not-for-us' | 'rate-limited' | 'storage-full'

export interface GateContext {
  chain: DescriptorChain
  now: number
  maxSkewMs: number
}

export function gateRecord (r: VerifiedRecord, ctx: GateContext): RejectReason | undefined {
  const c: Clock = r.rec.c
  if (clockWall(c) > ctx.now + ctx.maxSkewMs) return 'future-clock'
  if (r.rec.t === 'desc') return undefined // descriptors are judged by DescriptorChain.rejectNext
  const d = ctx.chain.at(c)
  if (d === undefined) return 'before-group'
  switch (r.rec.t) {
    case 'item': return gateItem(r as VerifiedRecord<ItemBody>, d, ctx)
    case 'key':
    case 'share': return gateEnvelope(r as VerifiedRecord<KeyBody | ShareBody>, d, ctx)
    case 'bind': return roleIn(d, r.rec.s) === undefined ? 'not-a-member' : undefined
    case 'vault': return roleIn(d, r.rec.s) === 'owner' ? undefined : 'not-owner'
  }
  return 'malformed'
}

function gateItem (r: VerifiedRecord<ItemBody>, d: DescBody, ctx: GateContext): RejectReason | undefined {
  const b = r.rec.b
  if (itemIdFor(b.a, b.n) !== r.recordId) return 'bad-id'
  const authorRole = roleIn(d, b.a)
  if (authorRole === undefined) return 'not-a-member'
  if (!canWrite(authorRole)) return 'read-only'
  const kvDesc = ctx.chain.introducing(b.kv)
  if (kvDesc === undefined) return 'bad-key-version'
  if (b.kv < d.kv) return 'stale-key'
  if (equalBytes(r.rec.s, b.a)) {
    // kv > D.kv: the author re-encrypted its own version after a rotation; it
    // must still have been a writer when that key version was introduced.
    if (b.kv > d.kv && !canWrite(roleIn(kvDesc, r.rec.s))) return 'not-a-member'
  } else {
    if (!canAdmin(roleIn(kvDesc, r.rec.s)) && !canAdmin(roleIn(d, r.rec.s))) return 'not-admin'
  }
  return undefined
}

function gateEnvelope (r: VerifiedRecord<KeyBody | ShareBody>, d: DescBody, ctx: GateContext): RejectReason | undefined {
  const b = r.rec.b
  if (!canAdmin(roleIn(d, r.rec.s))) return 'not-admin'
  // Key version 0 of a circle is its metadata key (it seals the name, never items).
  const circleMeta = r.rec.t === 'key' && b.kv === 0 && d.circle !== undefined
  if (!circleMeta && (b.kv > d.kv || ctx.chain.introducing(b.kv) === undefined)) return 'bad-key-version'
  if (roleIn(d, b.to) === undefined) return 'not-a-member'
  return undefined
}
