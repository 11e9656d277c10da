/**
 * The delivery outbox: what is owed to another node, kept in the store until
 * one delivery lands, retried with backoff 1 s … 60 s (±20 % jitter). Targets:
 *   peer:<peerId>, entity:<entityId>   a group's descriptor chain (and a member's key
 *                                      and share envelopes) for a keeper or a member
 *   invite:<entityId>                  the latest invitation of the group for that
 *                                      entity (/cairn/invite/1.0.0): the invitee's node
 *                                      holds nothing of the group before it consents
 *   end:<peerId>, endentity:<entityId> the record that ended a group here (a leave, a
 *                                      deletion), for its keepers and members and for a
 *                                      stale peer that still offers the group
 * with an optional address hint (a multiaddr with /p2p/, or a bare peer ID for the DHT).
 * An entity whose node is unknown is looked for through connected peers and the DHT
 * (locate.ts) at every attempt.
 *
 * Entries are attempted concurrently (PARALLEL at once), and so are the nodes of one
 * entity: one unreachable target's dial timeout never delays the others.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes } from '../crypto/bytes.js'
import { entityIdFromPublicKey, publicKeyFromEntityId, type GroupId } from '../crypto/ids.js'
import { roleIn } from '../groups/descriptor-chain.js'
import type { GroupRegistry } from '../groups/registry.js'
import { deliveredKinds, RULES } from '../groups/record-rules.js'
import { specOf } from '../records/kinds.js'
import { fromStore } from '../records/record.js'
import { inviteId } from '../records/invite.js'
import type { OutboxRow, Store } from '../store/store.js'
import type { DeliverService } from './deliver.js'
import type { OfferReply } from './invite-protocol.js'

export interface OutboxDeps {
  store: Store<GroupId>
  deliver: DeliverService
  ensureConnected: (peer: string, hint?: string) => Promise<void>
  /** Known nodes of an entity (hello bindings, bind records). */
  nodesOf: (pub: Uint8Array) => string[]
  /** Nodes of an entity this node has not met, found through peers or the DHT (their addresses already learnt). */
  locate: (pub: Uint8Array) => Promise<string[]>
  onDelivered: (gid: GroupId, peer: string, target: string) => void
  onFailed: (gid: GroupId, target: string, error: string, peers: string[]) => void
  /** Hand an invitation to the invitee's node; its answer comes back when it answered at once (auto_accept). */
  offerInvite: (peer: string, invite: Uint8Array, gid: GroupId) => Promise<OfferReply>
  onInviteReply: (gid: GroupId, peer: string, reply: OfferReply) => void
  stopped: () => boolean
  random?: () => number
}

const BATCH = 64
const PARALLEL = 8
const MAX_BACKOFF_MS = 60_000

export class Outbox {
  private busy = false
  private again = false
  private readonly inflight = new Set<string>()

  constructor (private readonly d: OutboxDeps) {}

  /**
   * A descriptor this node signed lists keepers or members the one before it
   * did not: owe each of them the group. Processed on the next turn, not at
   * once: the API call that made the descriptor passes the peer's address right
   * after (add-keeper --multiaddr), and the first attempt should use it.
   */
  oweNewcomers (gid: GroupId, chain: NonNullable<ReturnType<GroupRegistry['chain']>>, me: Uint8Array, keepers: string[], members: Array<[Uint8Array, string]>): void {
    if (!equalBytes(chain.head().rec.s, me)) return
    const prev = chain.length >= 2 ? chain.version(chain.length - 1)!.rec.b : undefined
    for (const k of keepers) if (prev === undefined || !prev.k.includes(k)) this.d.store.enqueueDelivery(`peer:${k}`, gid)
    for (const [pub] of members) {
      if (equalBytes(pub, me)) continue
      if (prev === undefined || roleIn(prev, pub) === undefined) this.d.store.enqueueDelivery(`entity:${entityIdFromPublicKey(pub)}`, gid)
    }
    setImmediate(() => { void this.process() })
  }

  /** Owe `gid` to a keeper (optionally with its address). */
  toPeer (peer: string, gid: GroupId, hint?: string): void {
    this.d.store.enqueueDelivery(`peer:${peer}`, gid, hint)
    void this.process()
  }

  /** Owe `gid` to a member (optionally with its node's address or peer ID). */
  toEntity (entityId: string, gid: GroupId, hint?: string): void {
    this.d.store.enqueueDelivery(`entity:${entityId}`, gid, hint)
    void this.process()
  }

  /** Owe the group's latest invitation for an entity to its node. */
  toInvitee (entityId: string, gid: GroupId, hint?: string): void {
    this.d.store.enqueueDelivery(`invite:${entityId}`, gid, hint)
    void this.process()
  }

  /** Owe the record that ended a group here to a peer (a keeper, a stale peer) or to a member's nodes. */
  endTo (target: { peer: string } | { entityId: string }, gid: GroupId): void {
    this.d.store.enqueueDelivery('peer' in target ? `end:${target.peer}` : `endentity:${target.entityId}`, gid)
    void this.process()
  }

  /** A target became reachable: its entries are due now. */
  wake (target: string): void { this.d.store.wakeDeliveries(target) }

  /** Start every due entry not already under way (at most PARALLEL at once); returns when this pass has started them. */
  async process (): Promise<void> {
    if (this.d.stopped()) return
    // A request during a pass runs another pass right after it, not at the next tick.
    if (this.busy) { this.again = true; return }
    this.busy = true
    try {
      const running: Array<Promise<void>> = []
      for (const row of this.d.store.dueDeliveries(Date.now(), BATCH)) {
        const key = `${row.target}\n${row.gid}`
        if (this.inflight.has(key) || this.inflight.size >= PARALLEL) continue
        this.inflight.add(key)
        running.push(this.attempt(row).catch(() => {}).finally(() => {
          this.inflight.delete(key)
          // A slot freed: due entries that waited for one start now.
          if (!this.d.stopped()) void this.process()
        }))
      }
    } finally { this.busy = false }
    if (this.again) { this.again = false; await this.process() }
  }

  /** Entries owed (for the replication view): target → last error. */
  pending (gid: GroupId): Map<string, { attempts: number, lastError: string | null }> {
    return new Map(this.d.store.deliveriesOf(gid).map(r => [r.target, { attempts: r.attempts, lastError: r.last_error }]))
  }

  private async attempt (row: OutboxRow<GroupId>): Promise<void> {
    const i = row.target.indexOf(':')
    const kind = row.target.slice(0, i)
    const target = row.target.slice(i + 1)
    const addr = row.hint !== null && row.hint.startsWith('/') ? row.hint : undefined
    const hinted = row.hint === null ? undefined : addr !== undefined ? /\/p2p\/([^/]+)$/.exec(addr)?.[1] : row.hint
    const byPeer = kind === 'peer' || kind === 'end'
    const peers = byPeer ? [target] : [...new Set([...this.nodesOfEntity(target), ...(hinted !== undefined ? [hinted] : [])])]
    if (!byPeer && peers.length === 0) peers.push(...await this.locateEntity(target))
    let ok = false
    let err = peers.length === 0 ? 'no node of this entity is known or could be found (connected peers and the DHT were asked); give its address with --multiaddr' : ''
    const payload = kind === 'invite' ? this.invite(row.gid, target) : kind === 'end' || kind === 'endentity' ? this.proof(row.gid) : undefined
    if ((kind === 'invite' || kind === 'end' || kind === 'endentity') && payload === undefined) { this.d.store.deliveryDone(row.target, row.gid); return }
    await Promise.all(peers.map(async p => {
      try {
        await this.d.ensureConnected(p, byPeer || p === hinted ? addr : undefined)
        if (kind === 'invite') {
          const reply = await this.d.offerInvite(p, payload!, row.gid)
          if (reply.status === 'refused') err = `refused: ${reply.reason ?? 'unknown'}`
          else { ok = true; this.d.onInviteReply(row.gid, p, reply) }
          return
        }
        const res = await this.d.deliver.deliver(peerIdFromString(p), payload !== undefined ? [payload] : this.records(row.gid, kind === 'entity' ? target : undefined))
        if (res.status === 'ok') { ok = true; if (payload === undefined) this.d.onDelivered(row.gid, p, row.target) } else err = `refused: ${res.reason ?? 'unknown'}`
      } catch (e) { err = (e as Error).message }
    }))
    if (ok) { this.d.store.deliveryDone(row.target, row.gid); return }
    const jitter = 0.8 + 0.4 * (this.d.random ?? Math.random)()
    this.d.store.deliveryFailed(row.target, row.gid, Date.now() + Math.round(Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(row.attempts, 8)) * jitter), err)
    this.d.onFailed(row.gid, row.target, err, peers)
  }

  private async locateEntity (entityId: string): Promise<string[]> {
    try { return await this.d.locate(publicKeyFromEntityId(entityId)) } catch { return [] }
  }

  /** The group's latest invitation of an entity (a revocation included). */
  private invite (gid: GroupId, entityId: string): Uint8Array | undefined {
    let pub: Uint8Array
    try { pub = publicKeyFromEntityId(entityId) } catch { return undefined }
    const row = this.d.store.getHead(gid, inviteId(gid, pub))
    return row === undefined ? undefined : new Uint8Array(row.bytes)
  }

  private proof (gid: GroupId): Uint8Array | undefined {
    const p = this.d.store.membership.ended(gid)?.proof
    return p === null || p === undefined ? undefined : new Uint8Array(p)
  }

  private nodesOfEntity (entityId: string): string[] {
    try { return this.d.nodesOf(publicKeyFromEntityId(entityId)) } catch { return [] }
  }

  /**
   * What a delivery carries (groups/record-rules.ts `audience`): to a keeper the
   * records for everyone (the descriptor chain); to a member also those
   * addressed to its entity (its key and share envelopes).
   */
  private records (gid: GroupId, entityId?: string): Uint8Array[] {
    const pub = entityId !== undefined ? publicKeyFromEntityId(entityId) : undefined
    const out: Uint8Array[] = []
    for (const kind of deliveredKinds(pub !== undefined)) {
      for (const row of this.d.store.allOfKind(gid, kind)) {
        if (RULES[kind].audience === 'recipient') {
          const to = specOf(kind).recipient(fromStore(row, kind).rec.b)
          if (to === null || pub === undefined || !equalBytes(to, pub)) continue
        }
        out.push(new Uint8Array(row.bytes))
      }
    }
    return out
  }
}
