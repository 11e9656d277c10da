/**
 * What the membership life cycle needs from the network (docs/MEMBERSHIP.md):
 *
 *  - an invitation written here goes to the invitee's node through the outbox
 *    (`invite:<entity>`, /cairn/invite/1.0.0); an answer that came back at once
 *    (auto_accept) is stored like a delivered record;
 *  - an answer signed here goes to the peers the invitation named (the inviter's
 *    node first, then the group's keepers) over /cairn/deliver/1.0.0, retried
 *    with backoff until one stores it;
 *  - a member added (or a circle share released): the group is delivered to its node;
 *  - a group that ends here (a leave, a deletion): its proof goes to the group's
 *    keepers and members' nodes, and to any stale peer that still offers the
 *    group (at most once a minute per peer and group);
 *  - the group's topic and sync schedule are dropped.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import type { Acceptor } from '../groups/acceptor.js'
import type { InviteInbox } from '../groups/invite-inbox.js'
import type { Logger } from '../util/logger.js'
import type { DeliverService } from './deliver.js'
import type { Outbox } from './outbox.js'
import type { OfferReply } from './invite-protocol.js'

export interface MembershipNetDeps {
  acceptor: Acceptor
  outbox: Outbox
  deliver: DeliverService
  inbox: InviteInbox | undefined
  ensureConnected: (peer: string) => Promise<void>
  /** Peers holding the group here (keepers), named in an invitation as where answers go. */
  keepersOf: (gid: GroupId) => string[]
  selfPeerId: string
  log: Logger
}

const RETRY_MIN_MS = 1000
const RETRY_MAX_MS = 300_000
const PROOF_EVERY_MS = 60_000

export class MembershipNet {
  private readonly answerRetry = new Map<string, { at: number, attempts: number }>()
  private readonly proofSent = new Map<string, number>()
  /** Where an invitee's node was said to be (POST …/members multiaddr), for the delivery once it joined. */
  private readonly hints = new Map<string, string>()
  private sending = false

  constructor (private readonly d: MembershipNetDeps) {
    d.inbox?.onChange(e => { if (e.kind === 'answered') void this.sendAnswers() })
  }

  /** Where answers to an invitation written here should go: this node, then the group's keepers. */
  hintsFor (gid: GroupId): string[] { return [this.d.selfPeerId, ...this.d.keepersOf(gid)] }

  inviteWritten (gid: GroupId, to: Uint8Array, hint?: string): void {
    const entityId = entityIdFromPublicKey(to)
    if (hint !== undefined) {
      this.hints.set(entityId, hint)
      if (this.hints.size > 1000) this.hints.delete(this.hints.keys().next().value!)
    }
    this.d.outbox.toInvitee(entityId, gid, hint)
  }

  inviteReply (gid: GroupId, peer: string, reply: OfferReply): void {
    if (reply.answer !== undefined) this.d.acceptor.ingest([reply.answer], 'delivery', { peer, group: gid })
  }

  joined (gid: GroupId, entityId: string): void { this.d.outbox.toEntity(entityId, gid, this.hints.get(entityId)) }

  ending (gid: GroupId, to: { keepers: string[], members: Uint8Array[] }): void {
    for (const k of to.keepers) this.d.outbox.endTo({ peer: k }, gid)
    for (const m of to.members) this.d.outbox.endTo({ entityId: entityIdFromPublicKey(m) }, gid)
  }

  /** A peer offered records of a group that ended here: hand it the proof (it ends the group too). */
  stalePeer (peer: string, gid: GroupId): void {
    const key = `${peer}/${gid}`
    const last = this.proofSent.get(key) ?? 0
    if (Date.now() - last < PROOF_EVERY_MS) return
    this.proofSent.set(key, Date.now())
    if (this.proofSent.size > 10_000) this.proofSent.delete(this.proofSent.keys().next().value!)
    this.d.outbox.endTo({ peer }, gid)
  }

  /** Send every answer not yet confirmed whose retry is due (also from the replicator's tick). */
  async sendAnswers (): Promise<void> {
    if (this.sending || this.d.inbox === undefined) return
    this.sending = true
    try {
      const now = Date.now()
      for (const a of this.d.inbox.undelivered()) {
        const r = this.answerRetry.get(a.id)
        if (r !== undefined && r.at > now) continue
        // Nobody took it while the invitation was open: it never will (a forged or revoked invitation).
        if (a.expires < now) { this.answerRetry.delete(a.id); this.d.inbox.delivered(a.id, false); continue }
        let ok = false
        for (const p of a.peers) {
          if (p === this.d.selfPeerId) continue
          try {
            await this.d.ensureConnected(p)
            const res = await this.d.deliver.deliver(peerIdFromString(p), [a.answer])
            if (res.status === 'ok') { ok = true; break }
            this.d.log.debug({ groupId: a.groupId, peer: p, reason: res.reason }, 'answer refused')
          } catch (e) { this.d.log.debug({ groupId: a.groupId, peer: p, err: (e as Error).message }, 'answer not delivered') }
        }
        if (ok) { this.answerRetry.delete(a.id); this.d.inbox.delivered(a.id); continue }
        const attempts = (r?.attempts ?? 0) + 1
        this.answerRetry.set(a.id, { attempts, at: now + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempts, 9)) })
      }
    } finally { this.sending = false }
  }
}
