/**
 * Acceptance gates (SPEC §4): what a record must satisfy, beyond a valid
 * signature and shape, to be stored. Pure; the same functions judge records
 * written locally, pushed over gossipsub and fetched by sync, so a node never
 * stores what it would refuse from a peer. record-rules.ts names each kind's gate.
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
 *    In an append-only group a version never replaces a different stored one,
 *      except its re-encryption (same author, nonce, clock and link, higher key
 *      version: records/item.ts isReencryptionOf);
 *    a link (`l`, records/ao-link.ts) only in an append-only group, and its entry
 *      signature verifies under the author over the entry's commitment.
 *  - key/share envelope: signer owner/admin in D; recipient a member of D; kv
 *    exists (key version 0 of a circle: its metadata key, for the name only).
 *  - bind: signer is a member of D and names a peer.
 *  - vault: signer is the owner of D (personal group).
 *  - audit-copy (a checkpoint copy): signer is the owner of D; kv exists and is not
 *    newer than D's (sealed with the personal group key in force).
 *  - desc: extends the chain (DescriptorChain.rejectNext: version n+1, linked,
 *    signed by an owner/admin of n); no clock rule.
 *  - invite: signer owner/admin in D; only an owner invites an owner or admin; an
 *    open invitation names an entity not yet a member of D (of a circle: one of its
 *    listed holders, whose consent is still missing).
 *  - answer: signed by the invitee of the invitation stored under
 *    invite(group, signer), names that version by hash, which is open and was not
 *    expired at the answer's clock.
 *  - leave: signer is a member of D. gdel: signer is an owner of D.
 *  - erasure (report): signer is a member of D; its key version exists in the chain.
 *  - any record signed by a member after its membership expiry in D (`mx`) is refused.
 */
import { equalBytes } from '../crypto/bytes.js'
import { clockWall } from '../crypto/hlc.js'
import { commitmentOf, isReencryptionOf, itemIdFor, type ItemBody } from '../records/item.js'
import { linkSignatureValid } from '../records/ao-link.js'
import { canAdmin, canWrite, type DescBody } from '../records/descriptor.js'
import type { KeyBody } from '../records/key-envelope.js'
import type { ShareBody } from '../records/share-envelope.js'
import type { BindBody } from '../records/binding.js'
import type { VaultBody } from '../records/vault-backup.js'
import { inviteId, type AnswerBody, type InviteBody } from '../records/invite.js'
import type { ErasureBody } from '../records/erasure.js'
import type { AuditCopyBody } from '../records/audit-copy.js'
import { fromStore, type Body, type DecodedRecord } from '../records/record.js'
import { roleIn, type ChainVerdict, type DescriptorChain } from './descriptor-chain.js'
import type { RejectReason } from './reject-reason.js'

export interface GateContext {
  chain: DescriptorChain
  now: number
  maxSkewMs: number
  /** The version stored under the record's ID, if any. */
  head?: { hash: Uint8Array, bytes: Uint8Array }
  /** Another record of the same group, by ID (a gate that judges one record by another: answers). */
  record?: (recordId: string) => DecodedRecord | undefined
}

/** undefined: the record may be stored (last-writer-wins still decides); 'duplicate': already held. */
export type Gate<B extends Body> = (r: DecodedRecord<B>, ctx: GateContext) => ChainVerdict

/** The descriptor in force at the record's clock, or why there is none it may use. */
function inForce (r: DecodedRecord, ctx: GateContext): DescBody | RejectReason {
  if (clockWall(r.rec.c) > ctx.now + ctx.maxSkewMs) return 'future-clock'
  const d = ctx.chain.at(r.rec.c) ?? 'before-group'
  // A member whose membership expired signs nothing more, removal published or not.
  if (typeof d !== 'string' && expiredAt(d, r.rec.s, clockWall(r.rec.c))) return 'membership-expired'
  return d
}

/** Had `pub`'s membership ended (descriptor `mx`) at `wallMs`? */
export function expiredAt (d: DescBody, pub: Uint8Array, wallMs: number): boolean {
  const e = d.mx?.find(([p]) => equalBytes(p, pub))
  return e !== undefined && e[1] <= wallMs
}

export const gateDescriptor: Gate<DescBody> = (r, ctx) => ctx.chain.rejectNext(r)

export const gateItem: Gate<ItemBody> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
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
  // `ao` never changes along a chain (rejectNext), so the head's answer is every version's.
  const ao = ctx.chain.current().ao
  if (b.l !== undefined) {
    if (!ao) return 'malformed'
    if (!linkSignatureValid(b.a, commitmentOf(r)!, b.l)) return 'bad-entry-signature'
  }
  if (ao && ctx.head !== undefined && !equalBytes(ctx.head.hash, r.hash) && !reencrypts(ctx.head, r)) return 'append-only'
  return undefined
}

function reencrypts (head: { hash: Uint8Array, bytes: Uint8Array }, r: DecodedRecord<ItemBody>): boolean {
  let prev: DecodedRecord<ItemBody>
  try { prev = fromStore(head, 'item') } catch { return false }
  return isReencryptionOf(prev, r)
}

export const gateEnvelope: Gate<KeyBody | ShareBody> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
  const b = r.rec.b
  if (!canAdmin(roleIn(d, r.rec.s))) return 'not-admin'
  // Key version 0 of a circle is its metadata key (it seals the name, never items).
  const circleMeta = r.rec.t === 'key' && b.kv === 0 && d.circle !== undefined
  if (!circleMeta && (b.kv > d.kv || ctx.chain.introducing(b.kv) === undefined)) return 'bad-key-version'
  if (roleIn(d, b.to) === undefined) return 'not-a-member'
  return undefined
}

/** Gates that ask only who signed: a member of D, or an owner of D. */
const signedByMember: Gate<Body> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
  return roleIn(d, r.rec.s) === undefined ? 'not-a-member' : undefined
}
const signedByOwner: Gate<Body> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
  return roleIn(d, r.rec.s) === 'owner' ? undefined : 'not-owner'
}

export const gateBinding: Gate<BindBody> = signedByMember
export const gateVaultBackup: Gate<VaultBody> = signedByOwner

export const gateInvite: Gate<InviteBody> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
  const b = r.rec.b
  const signerRole = roleIn(d, r.rec.s)
  if (!canAdmin(signerRole)) return 'not-admin'
  if (canAdmin(b.role) && signerRole !== 'owner') return 'not-owner'
  if (b.st === 'open') {
    // A circle lists its holders from the start; their consent is what is asked.
    const listed = roleIn(d, b.to) !== undefined
    if (d.circle === undefined && listed) return 'already-member'
    if (d.circle !== undefined && !listed) return 'not-a-member'
  }
  return undefined
}

export const gateAnswer: Gate<AnswerBody> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
  const inv = ctx.record?.(inviteId(r.groupId, r.rec.s))
  if (inv === undefined || inv.rec.t !== 'invite') return 'no-invite'
  const ib = inv.rec.b as InviteBody
  if (!equalBytes(inv.hash, r.rec.b.inv)) return 'stale-invite'
  if (ib.st !== 'open') return 'invite-revoked'
  if (clockWall(r.rec.c) > ib.ie) return 'invite-expired'
  return undefined
}

export const gateLeave: Gate<Body> = signedByMember
export const gateGroupDeletion: Gate<Body> = signedByOwner

export const gateErasure: Gate<ErasureBody> = (r, ctx) => {
  const why = signedByMember(r, ctx)
  if (why !== undefined) return why
  return ctx.chain.introducing(r.rec.b.kv) === undefined ? 'bad-key-version' : undefined
}

export const gateAuditCopy: Gate<AuditCopyBody> = (r, ctx) => {
  const d = inForce(r, ctx)
  if (typeof d === 'string') return d
  if (roleIn(d, r.rec.s) !== 'owner') return 'not-owner'
  if (r.rec.b.kv > d.kv || ctx.chain.introducing(r.rec.b.kv) === undefined) return 'bad-key-version'
  return undefined
}
