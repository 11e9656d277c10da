/**
 * Why a record was not stored: one name per cause, used as the metrics label
 * (`cairn_records_rejected_total{reason}`), in audit counts and on the wire
 * (a delivery's answer). Every reason has a class, and every caller that must
 * tell "the record is bad" from "we are not ready for it" asks classOf():
 *
 *  invalid   the record (or its sender) is at fault: push reports Reject, which
 *            lowers the forwarder's gossipsub score; sync does not retry it.
 *  behind    our view of the group is behind: a descriptor we do not hold yet
 *            (it may be later in the same session) could make it valid. Sync
 *            retries it once at the end of the session; push reports Ignore.
 *  declined  valid, but this node will not take it (not ours to hold, over a
 *            quota): Ignore, no retry.
 */
import type { DecodeFailure } from '../records/record.js'

export type RejectReason = DecodeFailure
  | 'unknown-group' | 'future-clock' | 'before-group' | 'bad-id' | 'not-a-member' | 'read-only'
  | 'not-admin' | 'not-owner' | 'bad-key-version' | 'stale-key' | 'replay' | 'append-only'
  | 'descriptor-gap' | 'descriptor-fork' | 'stale-clock' | 'circle-changed' | 'append-only-changed'
  | 'not-for-us' | 'rate-limited' | 'storage-full' | 'bad-entry-signature'
  | 'already-member' | 'no-invite' | 'stale-invite' | 'invite-revoked' | 'invite-expired' | 'group-deleted' | 'left-group' | 'membership-expired'

export type RejectClass = 'invalid' | 'behind' | 'declined'

const CLASS: Record<RejectReason, RejectClass> = {
  malformed: 'invalid', 'too-large': 'invalid', 'bad-signature': 'invalid', 'bad-proof': 'invalid',
  'unknown-group': 'behind', 'before-group': 'behind', 'not-a-member': 'behind', 'not-admin': 'behind',
  'bad-key-version': 'behind', 'descriptor-gap': 'behind',
  'future-clock': 'invalid', 'bad-id': 'invalid', 'read-only': 'invalid', 'not-owner': 'invalid',
  'stale-key': 'invalid', replay: 'invalid', 'append-only': 'invalid', 'descriptor-fork': 'invalid',
  'stale-clock': 'invalid', 'circle-changed': 'invalid', 'append-only-changed': 'invalid',
  'not-for-us': 'declined', 'rate-limited': 'declined', 'storage-full': 'declined', 'bad-entry-signature': 'invalid',
  // An answer may arrive before the invitation it answers (sync order): retried.
  'no-invite': 'behind',
  'already-member': 'invalid', 'stale-invite': 'invalid', 'membership-expired': 'invalid', 'invite-revoked': 'invalid', 'invite-expired': 'invalid',
  // A group this node deleted or left: never held again from a stale peer.
  'group-deleted': 'declined', 'left-group': 'declined'
}

export const classOf = (r: RejectReason): RejectClass => CLASS[r]

/** "Our view is behind": retry after more descriptors arrived, and do not blame the sender. */
export const isBehind = (r: RejectReason): boolean => CLASS[r] === 'behind'

export const isRejectReason = (s: unknown): s is RejectReason => typeof s === 'string' && Object.hasOwn(CLASS, s)
