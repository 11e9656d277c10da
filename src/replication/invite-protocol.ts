/**
 * /cairn/invite/1.0.0 — hand an invitation to the invitee's node.
 *
 *   → { inv: invite record bytes, hints: [peerId…] }
 *   ← { status: "pending" | "accepted" | "declined" | "refused", reason?, answer?: answer record bytes }
 *
 * The invitee's node does not hold the group, so the invitation cannot go
 * through the Acceptor: its inbox (groups/invite-inbox.ts) verifies it (a valid
 * signed `invite` naming its entity) and keeps one row, within its caps and
 * per-peer rate limit. `hints` are the peers that hold the group (the sender, its
 * keepers): where the invitee's answer goes. An invitation answered at once
 * (membership.auto_accept) comes back with its answer, which the sender stores
 * like any delivered record. A repeat of a known invitation answers its state.
 *
 * Invariants: nothing of the group but the invitation is stored before consent;
 * the handler never throws to libp2p; a bad message gets `refused`.
 * Limits: 4 KiB messages, ≤ 8 hints of ≤ 128 characters, the request timeout.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../util/logger.js'
import { Channel } from './channel.js'
import type { CairnLibp2p } from './libp2p-node.js'

export const INVITE_PROTOCOL = '/cairn/invite/1.0.0'
const MAX = 4096

export interface OfferReply { status: 'pending' | 'accepted' | 'declined' | 'refused', reason?: string, answer?: Uint8Array }

export interface InviteServerDeps {
  libp2p: CairnLibp2p
  /** The inbox's verdict on an invitation from `peer` (never throws). */
  offer: (invite: Uint8Array, peer: string, hints: string[]) => OfferReply
  timeoutMs: number
  log: Logger
}

const STATUSES = new Set(['pending', 'accepted', 'declined', 'refused'])

export class InviteServer {
  constructor (private readonly d: InviteServerDeps) {}

  async start (): Promise<void> { await this.d.libp2p.handle(INVITE_PROTOCOL, (s, c) => { void this.serve(s, c) }, { maxInboundStreams: 8 }) }
  async stop (): Promise<void> { await this.d.libp2p.unhandle(INVITE_PROTOCOL) }

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const ch = new Channel(stream, MAX, this.d.timeoutMs)
    try {
      const m = await ch.recv<{ inv?: unknown, hints?: unknown }>()
      const hints = Array.isArray(m.hints) ? m.hints.filter((h): h is string => typeof h === 'string' && h.length <= 128).slice(0, 8) : []
      const reply: OfferReply = m.inv instanceof Uint8Array ? this.d.offer(m.inv, peer, hints) : { status: 'refused', reason: 'malformed' }
      await ch.send({ status: reply.status, ...(reply.reason !== undefined ? { reason: reply.reason } : {}), ...(reply.answer !== undefined ? { answer: reply.answer } : {}) })
      await ch.close()
    } catch (e) {
      ch.abort('bad invitation')
      this.d.log.debug({ peer, err: (e as Error).message }, 'invitation refused')
    }
  }
}

/** Offer an invitation to one peer; throws on transport failure. */
export async function offerInvite (libp2p: CairnLibp2p, peer: PeerId, invite: Uint8Array, hints: string[], timeoutMs: number): Promise<OfferReply> {
  const stream = await libp2p.dialProtocol(peer, INVITE_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
  const ch = new Channel(stream, MAX, timeoutMs)
  try {
    await ch.send({ inv: invite, hints: hints.slice(0, 8) })
    const r = await ch.recv<{ status?: unknown, reason?: unknown, answer?: unknown }>()
    await ch.close()
    const status = typeof r.status === 'string' && STATUSES.has(r.status) ? r.status as OfferReply['status'] : 'refused'
    return { status, ...(typeof r.reason === 'string' ? { reason: r.reason.slice(0, 64) } : {}), ...(r.answer instanceof Uint8Array ? { answer: r.answer } : {}) }
  } catch (e) {
    ch.abort('invitation failed')
    throw e
  }
}
