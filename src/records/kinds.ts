/**
 * The record kinds, one entry each: what records/ knows of a kind. Every other
 * layer that treats kinds differently keeps its own table keyed by the same
 * names (groups/record-rules.ts: gate, delivery audience, what storing it sets
 * off), so adding a kind is one entry per table plus the service that writes
 * it (docs/ARCHITECTURE.md, "Adding a record kind").
 *
 * The kind name is on the wire (the record's `t`, and its signature label
 * "cairn/<kind>/v1"): a name, once used, is never reused for another body.
 */
import { checkBindBody } from './binding.js'
import { checkDescBody } from './descriptor.js'
import type { Body } from './envelope.js'
import { checkItemBody } from './item.js'
import { checkKeyBody } from './key-envelope.js'
import { checkShareBody } from './share-envelope.js'
import { checkVaultBody } from './vault-backup.js'
import { checkAnswerBody, checkInviteBody } from './invite.js'
import { checkEmptyBody } from './departure.js'
import { checkErasureBody } from './erasure.js'
import { checkAuditCopyBody } from './audit-copy.js'

export interface KindSpec<B extends Body> {
  /** Body shape: returns it typed, or throws IntegrityError (reason `malformed`). */
  check: (b: Body) => B
  /** Key version the body is encrypted under; 0 when no group key encrypts it. Stored as `kv`. */
  keyVersion: (b: B) => number
  /** The entity a version is written for (item authors; store column `author`), if the kind has one. */
  author: (b: B) => Uint8Array | null
  /** Does this version delete what it replaces (store column `tomb`; tombstone retention)? */
  tombstone: (b: B) => boolean
  /** The one entity the record is addressed to (envelopes), if any: delivery audiences use it. */
  recipient: (b: B) => Uint8Array | null
  /**
   * May a record of this body be batch-signed (docs/RECORDS.md)? Absent: never.
   * Items only: a rotation's re-encryptions (a version that replaces one) and
   * new items of a group commit batch; never a tombstone, never a new
   * append-only entry (its link is signed on its own and names the heads before it).
   */
  batchSigned?: (b: B) => boolean
}

const kind = <B extends Body>(spec: KindSpec<B>): KindSpec<B> => spec
const unencrypted = (): number => 0
const nobody = (): null => null
const never = (): boolean => false

export const KINDS = {
  item: kind({ check: checkItemBody, keyVersion: b => b.kv, author: b => b.a, tombstone: b => b.del, recipient: nobody, batchSigned: b => !b.del && (b.p.length === 32 || b.l === undefined) }),
  desc: kind({ check: checkDescBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: nobody }),
  key: kind({ check: checkKeyBody, keyVersion: b => b.kv, author: nobody, tombstone: never, recipient: b => b.to }),
  share: kind({ check: checkShareBody, keyVersion: b => b.kv, author: nobody, tombstone: never, recipient: b => b.to }),
  bind: kind({ check: checkBindBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: nobody }),
  vault: kind({ check: checkVaultBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: nobody }),
  invite: kind({ check: checkInviteBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: b => b.to }),
  answer: kind({ check: checkAnswerBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: nobody }),
  leave: kind({ check: checkEmptyBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: nobody }),
  gdel: kind({ check: checkEmptyBody, keyVersion: unencrypted, author: nobody, tombstone: never, recipient: nobody }),
  erasure: kind({ check: checkErasureBody, keyVersion: b => b.kv, author: nobody, tombstone: never, recipient: nobody }),
  'audit-copy': kind({ check: checkAuditCopyBody, keyVersion: b => b.kv, author: nobody, tombstone: never, recipient: nobody })
}

export type RecordKind = keyof typeof KINDS
/** The body type of a kind, as its check returns it. */
export type BodyOf<K extends RecordKind> = ReturnType<typeof KINDS[K]['check']>

export const isRecordKind = (t: string): t is RecordKind => Object.hasOwn(KINDS, t)

/** The kind's entry, typed loosely for code that handles any kind. */
export const specOf = (t: RecordKind): KindSpec<Body> => KINDS[t] as unknown as KindSpec<Body>
