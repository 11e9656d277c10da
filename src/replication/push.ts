/**
 * Chatty push over gossipsub. Topic of a group = "cairn/g/" + hex(SHA-256("cairn/topic/v1" || groupId)):
 * never a readable name, and not the group ID itself. Message data = the record
 * bytes, or a bundle of the records of one group queued together (push-bundle.ts:
 * a group commit batch), sent only where every subscriber known here takes
 * bundles; message ID = SHA-256 of the data, the record hash for a record
 * (StrictNoSign: records carry their own signatures). Taciturn groups are never
 * published or subscribed.
 *
 * Validation is asynchronous (gossipsub `asyncValidation`): a received message
 * is forwarded to the mesh only after the Acceptor stored it or already had it;
 * messages received in the same event-loop turn are ingested together, in one
 * transaction per turn (one commit, not one per message: see PushDeps.relaxed);
 * a record of another group than the topic's, or one the gates refuse as
 * invalid, is reported Reject, which also lowers the sender's gossipsub score;
 * one refused because our own view is behind (groups/reject-reason.ts) is Ignore.
 * A bundle's records are judged one by one; the bundle is Reject if one of them
 * (or its frame) is invalid, else Accept if one of them was stored, else Ignore.
 */
import { TopicValidatorResult, type GossipsubMessage, type SubscriptionChangeData } from '@libp2p/gossipsub'
import { taggedHash } from '../crypto/hash.js'
import { uuidToBytes, type GroupId } from '../crypto/ids.js'
import type { AcceptResult, Acceptor, Incoming } from '../groups/acceptor.js'
import { classOf } from '../groups/reject-reason.js'
import type { Logger } from '../util/logger.js'
import type { CairnLibp2p } from './libp2p-node.js'
import { messageRecords, pushMessages, type Outgoing } from './push-bundle.js'

/** Records waiting to be published; beyond this, enqueue() refuses and anti-entropy carries them. */
const QUEUE_MAX = 5000
/** Publishes (messages) in flight at once. */
const PUBLISH_BATCH = 64
/** Records taken from the queue at a time to form messages (bundles form within it; with QUEUE_MAX, the bound on records held). */
const FORM_AT_ONCE = 1024
/** Largest bundle, bytes (and never more than a record may be: a receiver's message limit). */
const MAX_BUNDLE_BYTES = 512 * 1024

export const topicOf = (gid: GroupId): string => 'cairn/g/' + Buffer.from(taggedHash('cairn/topic/v1', uuidToBytes(gid))).toString('hex')

export interface PushDeps {
  libp2p: CairnLibp2p
  acceptor: Acceptor
  log: Logger
  /** `n` records went out (in one message). */
  onPublished: (n: number) => void
  /** `n` records came in (in one message). */
  onReceived: (n: number) => void
  /**
   * Run store writes in one transaction that commits without waiting for
   * fsync (store.relaxed). A pushed record is acknowledged to nobody: if power
   * fails before the next full sync of the log, anti-entropy fetches it again.
   * One fsync per gossip message was most of a keeper's time at 200 writes/s
   * (bench: replication); one commit per event-loop turn rather than per
   * message also sets `synchronous` twice per turn, not per record.
   */
  relaxed: <T>(fn: () => T) => T
  /** A record of `gid` went out on its topic. */
  /** After each publish: the peers it was sent to (undefined when it was skipped). A subscriber left out had no open gossip stream yet (a connection just made). */
  afterPublish?: (gid: GroupId, reached: Set<string> | undefined) => void
  /** Does this peer take push bundles (its hello said so)? Without it, every record is its own message. */
  takesBundles?: (peer: string) => boolean
  /** A record's largest size (config): a bundle is never larger. */
  maxRecordBytes?: number
}

export class PushService {
  private readonly topics = new Map<string, string>() // topic → gid
  private queue: Outgoing[] = []
  private draining = false
  private stopped = false
  /** Messages received in this event-loop turn, ingested together (receiveBatch). */
  private inbox: GossipsubMessage[] = []
  private readonly onMessage = (e: CustomEvent<GossipsubMessage>): void => { this.receive(e.detail) }
  private readonly subscribedListeners: Array<(peer: string, gid: GroupId) => void> = []
  private readonly onSubscription = (e: CustomEvent<SubscriptionChangeData>): void => {
    for (const s of e.detail.subscriptions) {
      const gid = s.subscribe ? this.topics.get(s.topic) : undefined
      if (gid !== undefined) for (const l of this.subscribedListeners) l(e.detail.peerId.toString(), gid as GroupId)
    }
  }

  constructor (private readonly d: PushDeps) {}

  get pubsub (): CairnLibp2p['services']['pubsub'] { return this.d.libp2p.services.pubsub }

  start (): void {
    this.pubsub.addEventListener('gossipsub:message', this.onMessage)
    this.pubsub.addEventListener('subscription-change', this.onSubscription)
  }

  stop (): void {
    this.stopped = true
    this.pubsub.removeEventListener('gossipsub:message', this.onMessage)
    this.pubsub.removeEventListener('subscription-change', this.onSubscription)
  }

  /** A peer subscribed to the topic of a group held here. */
  onSubscribed (fn: (peer: string, gid: GroupId) => void): void { this.subscribedListeners.push(fn) }

  subscribe (gid: GroupId): void {
    const t = topicOf(gid)
    if (this.topics.has(t)) return
    this.topics.set(t, gid)
    this.pubsub.subscribe(t)
  }

  /** A group ended here (deleted, left): its topic is left, so nothing of it arrives by push. */
  unsubscribe (gid: GroupId): void {
    const t = topicOf(gid)
    if (!this.topics.delete(t)) return
    this.pubsub.unsubscribe(t)
  }

  /** Peers subscribed to the group's topic: a record we publish reaches each of them directly (flood publish). */
  subscribers (gid: GroupId): Set<string> {
    const t = topicOf(gid)
    if (!this.topics.has(t)) return new Set()
    return new Set(this.pubsub.getSubscribers(t).map(p => p.toString()))
  }

  /**
   * Queue a record for publishing; false when the queue is full (the caller
   * leaves it to anti-entropy). Publishing starts after the current task, so
   * the records a commit queues together (its batch) go out together.
   */
  enqueue (gid: GroupId, bytes: Uint8Array): boolean {
    if (this.queue.length >= QUEUE_MAX) return false
    this.queue.push({ gid, bytes })
    if (!this.draining) {
      this.draining = true
      queueMicrotask(() => { void this.drain() })
    }
    return true
  }

  /** May the records of `gid` go out bundled: every subscriber of its topic known here takes bundles. */
  private bundled (gid: string): boolean {
    const takes = this.d.takesBundles
    if (takes === undefined) return false
    const subs = this.pubsub.getSubscribers(topicOf(gid as GroupId))
    return subs.length > 0 && subs.every(p => takes(p.toString()))
  }

  private async drain (): Promise<void> {
    const maxBytes = Math.min(MAX_BUNDLE_BYTES, this.d.maxRecordBytes ?? MAX_BUNDLE_BYTES)
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const msgs = pushMessages(this.queue.splice(0, FORM_AT_ONCE), g => this.bundled(g), maxBytes)
        for (let i = 0; i < msgs.length && !this.stopped; i += PUBLISH_BATCH) {
          await Promise.all(msgs.slice(i, i + PUBLISH_BATCH).map(async m => await this.publish(m.gid as GroupId, m.data, m.records)))
        }
      }
    } finally { this.draining = false }
  }

  /** Publish one message: a record, or a bundle of `records` records. */
  async publish (gid: GroupId, data: Uint8Array, records = 1): Promise<void> {
    let reached: Set<string> | undefined
    try {
      const r = await this.pubsub.publish(topicOf(gid), data)
      reached = new Set(r.recipients.map(p => p.toString()))
      this.d.onPublished(records)
    } catch (e) {
      // Duplicate publishes and empty meshes are not failures: anti-entropy covers them.
      this.d.log.debug({ err: (e as Error).message }, 'publish skipped')
    } finally { this.d.afterPublish?.(gid, reached) }
  }

  private receive (m: GossipsubMessage): void {
    this.inbox.push(m)
    if (this.inbox.length === 1) setImmediate(() => { this.receiveBatch() })
  }

  /**
   * One transaction for the turn's messages; one ingest per (group, sending
   * peer): quotas and rejections are per peer. A bundle's records go into
   * that ingest beside the single records; a malformed bundle counts as one
   * malformed record.
   */
  private receiveBatch (): void {
    const msgs = this.inbox
    this.inbox = []
    const verdicts = new Map<GossipsubMessage, TopicValidatorResult>()
    const byKey = new Map<string, { gid: string, from: string, msgs: GossipsubMessage[], recs: Incoming[], ends: number[] }>()
    const maxBytes = this.d.maxRecordBytes ?? MAX_BUNDLE_BYTES
    for (const m of msgs) {
      const gid = this.topics.get(m.msg.topic)
      if (gid === undefined || this.stopped) { verdicts.set(m, TopicValidatorResult.Ignore); continue }
      const from = m.propagationSource.toString()
      const key = `${gid} ${from}`
      const entry = byKey.get(key) ?? { gid, from, msgs: [], recs: [], ends: [] }
      const recs = messageRecords(m.msg.data, maxBytes)
      if (recs === undefined) entry.recs.push({ refused: 'malformed' }); else entry.recs.push(...recs)
      this.d.onReceived(recs?.length ?? 1)
      entry.msgs.push(m)
      entry.ends.push(entry.recs.length)
      byKey.set(key, entry)
    }
    try {
      this.d.relaxed(() => {
        for (const { gid, from, msgs: ms, recs, ends } of byKey.values()) {
          const rs = this.d.acceptor.ingest(recs, 'push', { peer: from, group: gid })
          ms.forEach((m, i) => { verdicts.set(m, verdictOf(rs.slice(i === 0 ? 0 : ends[i - 1], ends[i]))) })
        }
      })
    } catch (e) {
      // The commit failed (disk full, I/O): nothing of the turn is stored; not the senders' fault.
      this.d.log.warn({ err: (e as Error).message, messages: msgs.length }, 'push handling failed')
      for (const m of msgs) verdicts.set(m, TopicValidatorResult.Ignore)
    }
    for (const m of msgs) {
      try { (this.pubsub as unknown as { reportMessageValidationResult: (id: string, from: string, r: TopicValidatorResult) => void }).reportMessageValidationResult(m.msgId, m.propagationSource.toString(), verdicts.get(m) ?? TopicValidatorResult.Ignore) } catch { /* message already gone from the cache */ }
    }
  }
}

/**
 * A message's records: one refused as invalid → Reject (not forwarded; lowers
 * the sender's score); else one stored → Accept (forwarded); else (duplicates,
 * our view behind) → Ignore.
 */
function verdictOf (rs: Array<AcceptResult | undefined>): TopicValidatorResult {
  if (rs.some(r => r?.status === 'rejected' && r.reason !== undefined && classOf(r.reason) === 'invalid')) return TopicValidatorResult.Reject
  return rs.some(r => r?.status === 'stored') ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
}
