/**
 * Invitations and their answers (docs/MEMBERSHIP.md): bilateral consent to
 * membership. Both are records of the group they are about.
 *
 * invite  body = { to: invitee(32), role, st: "open" | "revoked", ie: invitation
 *                  expires (ms), me: membership expires (ms, 0 = never), cir: bool,
 *                  ne, nn, nc: the group's name wrapped to the invitee }
 *         id = derived("invite", group, invitee): one invitation per invitee and
 *         group; a revocation or a renewed invitation is a later version of it.
 *         Signed by an owner or admin (the gate checks which).
 * answer  body = { inv: hash of the invitation record answered, acc: bool }
 *         id = derived("answer", group, invitee); signed by the invitee.
 *
 * The name travels wrapped to the invitee alone (X25519 + HKDF + XChaCha20-Poly1305,
 * info binding purpose, group and invitee), so the invitee reads it before it
 * holds any key of the group, and keepers and other members cannot.
 */
import { encodeCanonical } from '../crypto/canonical.js'
import { fromUtf8, utf8 } from '../crypto/bytes.js'
import { unwrapWith, wrapFor } from '../crypto/keywrap.js'
import { derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { ROLES, type Role } from './descriptor.js'
import { field, malformed, signRecord, type Body, type DecodedRecord, type VerifiedRecord } from './envelope.js'

export type InviteState = 'open' | 'revoked'

export interface InviteBody extends Body {
  to: Uint8Array, role: Role, st: InviteState, ie: number, me: number, cir: boolean
  ne: Uint8Array, nn: Uint8Array, nc: Uint8Array
}

export interface AnswerBody extends Body { inv: Uint8Array, acc: boolean }

/** Longest group name an invitation carries, bytes of UTF-8 (names are ≤ 200 characters). */
const MAX_NAME_BYTES = 800

export const inviteId = (groupId: GroupId, to: Uint8Array): RecordId => derivedId('invite', uuidToBytes(groupId), to)
export const answerId = (groupId: GroupId, invitee: Uint8Array): RecordId => derivedId('answer', uuidToBytes(groupId), invitee)

export function checkInviteBody (b: Body): InviteBody {
  field.exact(b, ['to', 'role', 'st', 'ie', 'me', 'cir', 'ne', 'nn', 'nc'])
  field.bytes(b, 'to', 32)
  if (!(ROLES as readonly unknown[]).includes(b.role)) throw malformed('invite role')
  if (b.st !== 'open' && b.st !== 'revoked') throw malformed('invite state')
  field.uint(b, 'ie'); field.uint(b, 'me'); field.bool(b, 'cir')
  field.bytes(b, 'ne', 32); field.bytes(b, 'nn', 24)
  const nc = field.bytes(b, 'nc')
  if (nc.length < 16 || nc.length > MAX_NAME_BYTES + 16) throw malformed('invite name')
  return b as InviteBody
}

export function checkAnswerBody (b: Body): AnswerBody {
  field.exact(b, ['inv', 'acc'])
  field.bytes(b, 'inv', 32); field.bool(b, 'acc')
  return b as AnswerBody
}

const nameInfo = (groupId: GroupId, to: Uint8Array): Uint8Array => encodeCanonical({ d: 'cairn/invite-name/v1', g: uuidToBytes(groupId), to })

export interface InviteInput {
  groupId: GroupId, clock: Clock, to: Uint8Array, role: Role, state: InviteState
  /** Invitation expiry, ms since the epoch. */
  expiresAt: number
  /** Membership expiry, ms since the epoch; 0 = never. */
  memberExpiresAt: number
  circle: boolean
  name: string
}

export function signInvite (key: SigningKey, i: InviteInput): VerifiedRecord<InviteBody> {
  const w = wrapFor(i.to, utf8(i.name.slice(0, 200)), nameInfo(i.groupId, i.to))
  return signRecord<InviteBody>(key, {
    t: 'invite', groupId: i.groupId, recordId: inviteId(i.groupId, i.to), clock: i.clock,
    body: { to: i.to, role: i.role, st: i.state, ie: i.expiresAt, me: i.memberExpiresAt, cir: i.circle, ne: w.epk, nn: w.nonce, nc: w.ct }
  })
}

/** The group's name, for the invitee (throws IntegrityError when it does not open). */
export function openInviteName (r: DecodedRecord<InviteBody>, mySeed: Uint8Array, myPub: Uint8Array): string {
  const b = r.rec.b
  return fromUtf8(unwrapWith(mySeed, myPub, { epk: b.ne, nonce: b.nn, ct: b.nc }, nameInfo(r.groupId, b.to)))
}

export function signAnswer (key: SigningKey, groupId: GroupId, clock: Clock, invite: DecodedRecord<InviteBody>, accept: boolean): VerifiedRecord<AnswerBody> {
  return signRecord<AnswerBody>(key, { t: 'answer', groupId, recordId: answerId(groupId, key.publicKey), clock, body: { inv: invite.hash, acc: accept } })
}
