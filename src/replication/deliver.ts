/**
 * /cairn/deliver/1.0.0 — hand a group's signed descriptor chain (and, for a
 * member, its key envelopes) to a keeper or a new member directly, so it can
 * adopt the group without waiting for anyone to sync.
 *
 *   → { recs: [record bytes…] }     ← { stored: n, status: "ok" | "refused", reason? }
 *
 * The receiver judges the records like any others (Acceptor): it adopts a new
 * group only if the chain is valid and lists it (keeper peer ID, or its entity as
 * a member). The sender keeps an outbox entry until a delivery lands, retrying
 * with backoff (outbox.ts). Limits: 8 MiB per request, the request timeout.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Acceptor } from '../groups/acceptor.js'
import { isRejectReason, type RejectReason } from '../groups/reject-reason.js'
import type { Logger } from '../util/logger.js'
import { Channel, ProtocolError } from './channel.js'
import type { CairnLibp2p } from './libp2p-node.js'

export const DELIVER_PROTOCOL = '/cairn/deliver/1.0.0'
const MAX = 8 * 1024 * 1024

export interface DeliverDeps { libp2p: CairnLibp2p, acceptor: Acceptor, timeoutMs: number, log: Logger }

export class DeliverService {
  constructor (private readonly d: DeliverDeps) {}

  async start (): Promise<void> {
    await this.d.libp2p.handle(DELIVER_PROTOCOL, (s, c) => { void this.serve(s, c) }, { maxInboundStreams: 8 })
  }

  async stop (): Promise<void> { await this.d.libp2p.unhandle(DELIVER_PROTOCOL) }

  /** Deliver; resolves with the receiver's answer, throws on transport failure. */
  async deliver (peer: PeerId, recs: Uint8Array[]): Promise<{ stored: number, status: string, reason?: RejectReason }> {
    const stream = await this.d.libp2p.dialProtocol(peer, DELIVER_PROTOCOL, { signal: AbortSignal.timeout(this.d.timeoutMs) })
    const ch = new Channel(stream, MAX, this.d.timeoutMs)
    try {
      await ch.send({ recs })
      const r = await ch.recv<{ stored?: unknown, status?: unknown, reason?: unknown }>()
      await ch.close()
      return { stored: typeof r.stored === 'number' ? r.stored : 0, status: typeof r.status === 'string' ? r.status : 'refused', ...(isRejectReason(r.reason) ? { reason: r.reason } : {}) }
    } catch (e) {
      ch.abort('deliver failed')
      throw e
    }
  }

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const ch = new Channel(stream, MAX, this.d.timeoutMs)
    try {
      const m = await ch.recv<{ recs?: unknown }>()
      if (!Array.isArray(m.recs) || m.recs.length > 10_000 || !m.recs.every(x => x instanceof Uint8Array)) throw new ProtocolError('bad delivery')
      const res = this.d.acceptor.ingest(m.recs as Uint8Array[], 'delivery', { peer })
      const stored = res.filter(r => r.status === 'stored').length
      const refused = res.find(r => r.status === 'rejected')
      const ok = res.every(r => r.status !== 'rejected')
      await ch.send({ stored, status: ok ? 'ok' : 'refused', ...(refused?.reason !== undefined ? { reason: refused.reason } : {}) })
      await ch.close()
    } catch (e) {
      ch.abort('bad delivery')
      this.d.log.debug({ peer, err: (e as Error).message }, 'delivery refused')
    }
  }
}
