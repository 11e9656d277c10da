/**
 * What groups/ knows of each record kind, one entry per kind (records/kinds.ts
 * holds what records/ knows): its acceptance gate (gates.ts), who receives it
 * in a direct delivery, whether member nodes keep the versions it replaces,
 * where it goes in a batch, and what storing it sets off elsewhere in the node.
 * The Acceptor, the delivery outbox and the `stored` listeners read this table;
 * none of them names a kind for these decisions.
 */
import type { Body, BodyOf, DecodedRecord, RecordKind } from '../records/record.js'
import type { AcceptorEvents, StoredEvent } from './acceptor.js'
import { gateAnswer, gateAuditCopy, gateBinding, gateDescriptor, gateEnvelope, gateErasure, gateGroupDeletion, gateInvite, gateItem, gateLeave, gateVaultBackup, type GateContext } from './gates.js'
import type { ChainVerdict } from './descriptor-chain.js'
import type { TypedEmitter } from '../util/events.js'
import type { Store } from '../store/store.js'
import { commitmentOf, type ItemBody } from '../records/item.js'

/**
 * What a stored record sets off, each wired by node/ to one handler:
 *  searchable    its words enter or leave the search index (search/)
 *  key-envelope  a group key that may be addressed to our entity (GroupService.absorbKeyEnvelope)
 *  node-binding  a member's node became known: deliveries owed to it are due (replication/)
 *  membership    an invitation, an answer or a leave: an admin's node completes it
 *                (GroupService membership), an invitation is delivered to its invitee
 *  group-deleted the group ends: purge it, keep its tombstone (GroupService)
 *  erasure       a deleted item: the copies made of it here are erased (groups/erasure.ts)
 *  erasure-report another node says what it did with its copies of an item deleted here (audited)
 */
export type StoredEffect = 'searchable' | 'key-envelope' | 'node-binding' | 'membership' | 'group-deleted' | 'erasure' | 'erasure-report'

/**
 * Who a direct delivery (replication/outbox.ts) carries it to: every new keeper
 * and member, only the entity it is addressed to (records/kinds.ts `recipient`),
 * or nobody (it travels by push and sync only).
 */
export type Audience = 'everyone' | 'recipient' | 'nobody'

export interface KindRules<B extends Body> {
  gate: (r: DecodedRecord<B>, ctx: GateContext) => ChainVerdict
  audience: Audience
  /** Member nodes keep the versions it replaces (provenance); keepers keep none. */
  history: boolean
  /** Position in a batch, lower first: what judges the rest (descriptors, by version) comes first. */
  order: (b: B) => number
  effects: readonly StoredEffect[]
  /**
   * Rows kept beside the record, written in the transaction that stores it
   * (so they never disagree with the records): the append-only DAG index.
   */
  index?: (r: DecodedRecord<B>, store: Store) => void
}

const AFTER_DESCRIPTORS = (): number => 2 ** 32

export const RULES: { [K in RecordKind]: KindRules<BodyOf<K>> } = {
  desc: { gate: gateDescriptor, audience: 'everyone', history: false, order: b => b.ver, effects: [] },
  item: { gate: gateItem, audience: 'nobody', history: true, order: AFTER_DESCRIPTORS, effects: ['searchable', 'erasure'], index: indexLink },
  key: { gate: gateEnvelope, audience: 'recipient', history: false, order: AFTER_DESCRIPTORS, effects: ['key-envelope'] },
  share: { gate: gateEnvelope, audience: 'recipient', history: false, order: AFTER_DESCRIPTORS, effects: [] },
  bind: { gate: gateBinding, audience: 'nobody', history: false, order: AFTER_DESCRIPTORS, effects: ['node-binding'] },
  vault: { gate: gateVaultBackup, audience: 'nobody', history: false, order: AFTER_DESCRIPTORS, effects: [] },
  invite: { gate: gateInvite, audience: 'recipient', history: false, order: AFTER_DESCRIPTORS, effects: ['membership'] },
  // After the invitation it answers, in a batch that carries both.
  answer: { gate: gateAnswer, audience: 'nobody', history: false, order: () => AFTER_DESCRIPTORS() + 1, effects: ['membership'] },
  leave: { gate: gateLeave, audience: 'nobody', history: false, order: AFTER_DESCRIPTORS, effects: ['membership'] },
  // Delivered with the chain: a member or keeper handed the group learns at once that it ended.
  gdel: { gate: gateGroupDeletion, audience: 'everyone', history: false, order: AFTER_DESCRIPTORS, effects: ['group-deleted'] },
  erasure: { gate: gateErasure, audience: 'nobody', history: false, order: AFTER_DESCRIPTORS, effects: ['erasure-report'] },
  'audit-copy': { gate: gateAuditCopy, audience: 'nobody', history: false, order: AFTER_DESCRIPTORS, effects: [] }
}

/** An append-only entry's place in the DAG index (store/ao-index.ts); unlinked items have none. */
function indexLink (r: DecodedRecord<ItemBody>, store: Store): void {
  const l = r.rec.b.l
  if (l === undefined) return
  store.ao.add(r.groupId, { e: commitmentOf(r)!, rid: r.recordId, clock: r.rec.c, author: r.rec.b.a, parents: l.h, ...(l.t !== undefined ? { kind: l.t, target: l.r! } : {}) })
}

/** A kind's rules, typed loosely for code that handles any kind. */
export const rulesOf = (t: RecordKind): KindRules<Body> => RULES[t] as unknown as KindRules<Body>

/** The acceptance gate of a record's kind (gates.ts). */
export function gateRecord (r: DecodedRecord, ctx: GateContext): ChainVerdict {
  return rulesOf(r.rec.t).gate(r, ctx)
}

/** The kinds a direct delivery carries to a keeper (`entity` false) or to a member's entity. */
export const deliveredKinds = (entity: boolean): RecordKind[] =>
  (Object.keys(RULES) as RecordKind[]).filter(k => RULES[k].audience === 'everyone' || (entity && RULES[k].audience === 'recipient'))

/** Run `fn` for every stored record whose kind sets off `effect`. */
export function onStored (events: TypedEmitter<AcceptorEvents>, effect: StoredEffect, fn: (ev: StoredEvent) => void): () => void {
  return events.on('stored', ev => { if (rulesOf(ev.record.rec.t).effects.includes(effect)) fn(ev) })
}
