/**
 * How a membership or a group ends (docs/MEMBERSHIP.md).
 *
 * leave  body = {}; id = derived("leave", group, member); signed by the member
 *        leaving. The group's admins remove it with a new key version when
 *        they store it; the member's own node has dropped the group already.
 * gdel   body = {}; id = derived("gdel", group); signed by an owner. Every node
 *        that stores it purges the group and keeps the record as the group's
 *        tombstone: the proof it hands to a stale peer that still offers the group.
 */
import { derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { field, signRecord, type Body, type VerifiedRecord } from './envelope.js'

export type LeaveBody = Body
export type GroupDeletionBody = Body

export const leaveId = (groupId: GroupId, member: Uint8Array): RecordId => derivedId('leave', uuidToBytes(groupId), member)
export const groupDeletionId = (groupId: GroupId): RecordId => derivedId('gdel', uuidToBytes(groupId))

export function checkEmptyBody (b: Body): Body {
  field.exact(b, [])
  return b
}

export function signLeave (key: SigningKey, groupId: GroupId, clock: Clock): VerifiedRecord<LeaveBody> {
  return signRecord(key, { t: 'leave', groupId, recordId: leaveId(groupId, key.publicKey), clock, body: {} })
}

export function signGroupDeletion (key: SigningKey, groupId: GroupId, clock: Clock): VerifiedRecord<GroupDeletionBody> {
  return signRecord(key, { t: 'gdel', groupId, recordId: groupDeletionId(groupId), clock, body: {} })
}
