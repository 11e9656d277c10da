/**
 * Chatty push over gossipsub. Topic of a group = "cairn/g/" + hex(SHA-256("cairn/topic/v1" || groupId)):
 * never a readable name, and not the group ID itself. Message data = the record
 * bytes; message ID = the record hash (StrictNoSign: records carry their own
 * signatures). Taciturn groups are never published or subscribed.
 *
 * Validation is asynchronous (gossipsub `asyncValidation`): a received message
 * is forwarded to the mesh only after the Acceptor stored it or already had it;
 * messages received in the same event-loop turn are ingested together, in one
 * transaction per turn (one commit, not one per message: see PushDeps.relaxed);
 * a record of another group than the topic's, or one the gates refuse as
 * invalid, is reported Reject, which also lowers the sender's gossipsub score;
 * one refused because our own view is behind (groups/reject-reason.ts) is Ignore.
 */
import { TopicValidatorResult, type GossipsubMessage, type SubscriptionChangeData } from '@libp2p/gossipsub'
import { taggedHash } from '../crypto/hash.js'
import { uuidToBytes, type GroupId } from '../crypto/ids.js'
import type { AcceptResult, Acceptor } from '../groups/acceptor.js'
import { classOf } from '../groups/reject-reason.js'
import type { Logger } from '../util/logger.js'
import type { CairnLibp2p } from './libp2p-node.js'

/** Records waiting to be published; beyond this, enqueue() refuses and anti-entropy carries them. */
const QUEUE_MAX = 5000
/** Publishes in flight at once. */
const PUBLISH_BATCH = 64

export const topicOf = (gid: GroupId): string => 'cairn/g/' + Buffer.from(taggedHash('cairn/topic/v1', uuidToBytes(gid))).toString('hex')

export interface PushDeps {
  libp2p: CairnLibp2p
  acceptor: Acceptor
  log: Logger
  onPublished: () => void
  onReceived: () => void
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
}

export class PushService {
  private readonly topics = new Map<string, string>() // topic → gid
  private queue: Array<{ gid: GroupId, bytes: Uint8Array }> = []
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

  /** Queue a record for publishing; false when the queue is full (the caller leaves it to anti-entropy). */
  enqueue (gid: GroupId, bytes: Uint8Array): boolean {
    if (this.queue.length >= QUEUE_MAX) return false
    this.queue.push({ gid, bytes })
    if (!this.draining) void this.drain()
    return true
  }

  private async drain (): Promise<void> {
    this.draining = true
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const batch = this.queue.splice(0, PUBLISH_BATCH)
        await Promise.all(batch.map(async p => await this.publish(p.gid, p.bytes)))
      }
    } finally { this.draining = false }
  }

  async publish (gid: GroupId, bytes: Uint8Array): Promise<void> {
    let reached: Set<string> | undefined
    try {
      const r = await this.pubsub.publish(topicOf(gid), bytes)
      reached = new Set(r.recipients.map(p => p.toString()))
      this.d.onPublished()
    } catch (e) {
      // Duplicate publishes and empty meshes are not failures: anti-entropy covers them.
      this.d.log.debug({ err: (e as Error).message }, 'publish skipped')
    } finally { this.d.afterPublish?.(gid, reached) }
  }

  private receive (m: GossipsubMessage): void {
    this.inbox.push(m)
    if (this.inbox.length === 1) setImmediate(() => { this.receiveBatch() })
  }

  /** One transaction for the turn's messages; one ingest per (group, sending peer): quotas and rejections are per peer. */
  private receiveBatch (): void {
    const msgs = this.inbox
    this.inbox = []
    const verdicts = new Map<GossipsubMessage, TopicValidatorResult>()
    const byKey = new Map<string, { gid: string, from: string, msgs: GossipsubMessage[] }>()
    for (const m of msgs) {
      const gid = this.topics.get(m.msg.topic)
      if (gid === undefined || this.stopped) { verdicts.set(m, TopicValidatorResult.Ignore); continue }
      this.d.onReceived()
      const from = m.propagationSource.toString()
      const key = `${gid} ${from}`
      const entry = byKey.get(key) ?? { gid, from, msgs: [] as GossipsubMessage[] }
      entry.msgs.push(m)
      byKey.set(key, entry)
    }
    try {
      this.d.relaxed(() => {
        for (const { gid, from, msgs: ms } of byKey.values()) {
          const rs = this.d.acceptor.ingest(ms.map(m => m.msg.data), 'push', { peer: from, group: gid })
          ms.forEach((m, i) => { verdicts.set(m, verdictOf(rs[i])) })
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

/** Stored → forward; refused as invalid → Reject (lowers the sender's score); anything else (duplicate, our view behind) → Ignore. */
function verdictOf (r: AcceptResult | undefined): TopicValidatorResult {
  if (r?.status === 'stored') return TopicValidatorResult.Accept
  if (r?.status === 'rejected' && r.reason !== undefined && classOf(r.reason) === 'invalid') return TopicValidatorResult.Reject
  return TopicValidatorResult.Ignore
}
