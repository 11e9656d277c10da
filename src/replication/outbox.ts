/**
 * The delivery outbox: descriptor chains (and a member's key and share
 * envelopes) owed to a keeper or a new member, kept in the store until one
 * delivery lands, retried with backoff 1 s … 5 min. Targets are `peer:<peerId>`
 * (a keeper) or `entity:<entityId>` (every known node of a member), with an
 * optional address hint (a multiaddr with /p2p/, or a bare peer ID for the DHT).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes } from '../crypto/bytes.js'
import { publicKeyFromEntityId, type GroupId } from '../crypto/ids.js'
import { deliveredKinds, RULES } from '../groups/record-rules.js'
import { specOf } from '../records/kinds.js'
import { fromStore } from '../records/record.js'
import type { OutboxRow, Store } from '../store/store.js'
import type { DeliverService } from './deliver.js'

export interface OutboxDeps {
  store: Store<GroupId>
  deliver: DeliverService
  ensureConnected: (peer: string, hint?: string) => Promise<void>
  /** Known nodes of an entity (hello bindings, bind records). */
  nodesOf: (pub: Uint8Array) => string[]
  onDelivered: (gid: GroupId, peer: string) => void
  stopped: () => boolean
}

const BATCH = 20
const MAX_BACKOFF_MS = 300_000

export class Outbox {
  private busy = false
  private again = false

  constructor (private readonly d: OutboxDeps) {}

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

  /** A target became reachable: its entries are due now. */
  wake (target: string): void { this.d.store.wakeDeliveries(target) }

  async process (): Promise<void> {
    if (this.d.stopped()) return
    // A request during a pass runs another pass right after it, not at the next tick.
    if (this.busy) { this.again = true; return }
    this.busy = true
    try {
      for (const row of this.d.store.dueDeliveries(Date.now(), BATCH)) await this.attempt(row)
    } finally { this.busy = false }
    if (this.again) { this.again = false; await this.process() }
  }

  private async attempt (row: OutboxRow<GroupId>): Promise<void> {
    const i = row.target.indexOf(':')
    const kind = row.target.slice(0, i)
    const target = row.target.slice(i + 1)
    const addr = row.hint !== null && row.hint.startsWith('/') ? row.hint : undefined
    const hinted = row.hint === null ? undefined : addr !== undefined ? /\/p2p\/([^/]+)$/.exec(addr)?.[1] : row.hint
    const peers = kind === 'peer' ? [target] : [...new Set([...this.nodesOfEntity(target), ...(hinted !== undefined ? [hinted] : [])])]
    let ok = false
    let err = peers.length === 0 ? 'no known node of this entity yet' : ''
    for (const p of peers) {
      try {
        await this.d.ensureConnected(p, kind === 'peer' || p === hinted ? addr : undefined)
        const res = await this.d.deliver.deliver(peerIdFromString(p), this.records(row.gid, kind === 'entity' ? target : undefined))
        if (res.status === 'ok') { ok = true; this.d.onDelivered(row.gid, p) } else err = `refused: ${res.reason ?? 'unknown'}`
      } catch (e) { err = (e as Error).message }
    }
    if (ok) this.d.store.deliveryDone(row.target, row.gid)
    else this.d.store.deliveryFailed(row.target, row.gid, Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(row.attempts, 8)), err)
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
