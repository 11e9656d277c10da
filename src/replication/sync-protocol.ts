/**
 * /cairn/sync/1.1.0 and /cairn/sync/1.0.0 — anti-entropy for one group between two peers.
 *
 * Both are served; an initiator offers 1.1.0 first and 1.0.0 second, so a peer
 * that speaks only 1.0.0 is synced with 1.0.0. The two differ only in the
 * opening's ranges: 1.0.0 opens with [root SPLIT], 1.1.0 with [IBLT, root SPLIT]
 * (reconcile.ts: IBLT and WANT are 1.1.0's two range kinds; an IBLT that peels
 * settles a small difference in 2 round trips whatever the set size, one that
 * does not is ignored and the SPLIT answered, in the same session).
 *
 * Messages are CBOR maps, length-prefixed (channel.ts). A turn is zero or more
 *   { recs: [record bytes…] }            (≤ ~1 MiB each)
 * followed by one
 *   { r: [range…] }                      (reconcile.ts wire ranges; [] = "no more questions")
 * Sequence: the initiator opens with { g: group(16), r: [root split] }; the responder
 * checks it holds the group and that the initiator may have it (a keeper of the
 * group, or a node bound to a member: for a peer that has just connected, it
 * waits up to hello's 5 s for the peer's hello), else answers { err: "not-found" }
 * — the same answer as for an unknown group, so nobody can probe which groups a
 * node holds. An initiator refused before any turn opens once more with
 * { g, r, d: [descriptor bytes…] } (its ≤ 8 newest descriptors of the group, oldest
 * first, ≤ half a message): a responder that holds the group but does not know the
 * initiator yet (its view is behind: the descriptor naming a just-added keeper
 * has not reached it) verifies them, lets the Acceptor judge them (descriptors of
 * this group only, sync-open.ts) and, if one was stored, asks `authorize` again;
 * else it answers { err: "not-found" } as before. Then the sides alternate turns.
 *
 * One session per (peer, group) — the tie-break at open (sync-sessions.ts,
 * docs/SYNC.md "One session per pair"). A node asked to sync a group with a peer
 * whose session with it for that group is under way opens none: it waits for that
 * one and takes its outcome. When openings cross, the session opened by the LOWER
 * peer ID goes on: the lower side answers the higher side's opening { err: "busy" }
 * before anything else (it reveals nothing: the lower side is itself syncing that
 * group with that peer). `busy` is not an error: the declined initiator waits for
 * the winner's session (≤ timeoutMs for its opening to arrive) and takes its outcome,
 * or opens again after it when it failed, never came, or a fresh comparison was
 * asked for (≤ 3 declines in a row). Nothing is stored, counted or audited for it.
 * A node filling a group it just adopted from one peer (sync-scheduler.ts `adopted`)
 * answers any other peer's opening for it `busy`, and opens its own with it after. Whoever receives a turn with no ranges
 * (and finds nothing to re-check, see reconcile.ts SessionState) answers
 * { done: n } (records it stored) and the session ends.
 *
 * Guarantees: every received record goes through the verifier (signature) and
 * the Acceptor (gates) before it is stored, but for a byte-identical copy of a
 * record already held (its SHA-256 is a stored record's: dropped, nothing
 * stored, Session.notHeld); a record rejected because our view
 * is behind (groups/reject-reason.ts: its descriptor not yet here) is retried
 * once at the end of the session. Limits: `maxMessageBytes` per message, `timeoutMs` per read, 64 turns.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { groupIdFromBytes, uuidToBytes, type GroupId } from '../crypto/ids.js'
import type { Acceptor, Incoming } from '../groups/acceptor.js'
import { isBehind } from '../groups/reject-reason.js'
import type { VerifiedRecord } from '../records/record.js'
import type { Store } from '../store/store.js'
import { CairnError } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { Channel, ProtocolError } from './channel.js'
import type { IndexCache } from './index-cache.js'
import type { CairnLibp2p } from './libp2p-node.js'
import { fromWire, newSessionState, openingTurn, respond, toWire, type Range, type SessionState, type SetView, type Turn } from './reconcile.js'
import type { Verifier } from './verifier.js'
import { nodeBounds } from './sync-index.js'
import { toHex } from '../crypto/bytes.js'
import { sha256 } from '../crypto/hash.js'
import { SyncSessions } from './sync-sessions.js'
import { learnDescriptors, newestDescriptors } from './sync-open.js'

export const SYNC_PROTOCOL = '/cairn/sync/1.0.0'
export const SYNC_PROTOCOL_1_1 = '/cairn/sync/1.1.0'
/** What this node offers as initiator and serves as responder, newest first. */
export const SYNC_PROTOCOLS = [SYNC_PROTOCOL_1_1, SYNC_PROTOCOL]
const MAX_TURNS = 64
const BATCH_BYTES = 1024 * 1024
/**
 * Receive-side flow control: at PAUSE_AT batches read but not yet stored the
 * receiver stops reading until only RESUME_AT are left. Each pause must free
 * more than the stream window refills (channel.ts STREAM_WINDOW_BYTES, 2 MiB)
 * or unread data would pile up: (PAUSE_AT − RESUME_AT) × BATCH_BYTES = 3 MiB.
 */
const PAUSE_AT = 4
const RESUME_AT = 1
const MAX_RETRY = 20_000
/** The answer to an opening that loses the tie-break (see the header). */
const BUSY = 'busy'
/** Openings of ours declined in a row before we leave the pair to the next round. */
const MAX_DECLINED = 3

/** A session's figures so far (what did not begin counts zero). */
function reportOf (peerId: string, groupId: GroupId | undefined, ch: Channel | undefined, s: Session | undefined, roundTrips: number, error?: string): SyncReport {
  return { peerId, ...(groupId !== undefined ? { groupId } : {}), sent: s?.sent ?? 0, received: s?.received ?? 0, bytes: (ch?.bytesIn ?? 0) + (ch?.bytesOut ?? 0), reconcileBytes: s?.reconcileBytes ?? 0, roundTrips, ...(error !== undefined ? { error } : {}) }
}

const rangesOf = (ws: unknown[]): Range[] => ws.map(w => { const r = fromWire(w); if (r === undefined) throw new ProtocolError('malformed range'); return r })

/** Our opening lost the tie-break: the peer is running its session with us for this group. */
class Declined extends Error {}

export interface SyncReport {
  peerId: string, groupId?: GroupId, sent: number, received: number, bytes: number, reconcileBytes: number, roundTrips: number, error?: string
  /** 'peer': no session of ours ran; the sets were compared in the peer's session with us (the tie-break), whose figures these are. */
  via?: 'peer'
}

export interface SyncDeps {
  libp2p: CairnLibp2p
  store: Store<GroupId>
  acceptor: Acceptor
  indexes: IndexCache
  verifier: Verifier
  /** May `peer` sync `gid` with us? (keeper of it, or bound to a member; may wait for the peer's hello) */
  authorize: (peer: string, gid: GroupId) => boolean | Promise<boolean>
  /** Do we hold the group (or may we start holding it, e.g. during recovery)? */
  holds: (gid: GroupId) => boolean
  timeoutMs: number
  maxMessageBytes: number
  maxRecordBytes: number
  log: Logger
  /** A session ended; `startedAt` (ms epoch): it compared the sets as they were from then on. */
  onSession?: (r: SyncReport, role: 'initiator' | 'responder', startedAt: number) => void
  onProgress?: (gid: GroupId, received: number) => void
  /** A peer's IBLT opening was answered: settled by it, or by the range trie. */
  onIblt?: (result: 'peeled' | 'fallback') => void
  onRecords?: ((bytes: number) => void) | undefined // bytes of a records message received
  fillingFrom?: (gid: GroupId) => string | undefined // the peer a group just adopted is filled from
}

class Session {
  sent = 0
  received = 0
  reconcileBytes = 0
  private retry: VerifiedRecord[] = []
  readonly state: SessionState
  /** `v11`: the stream speaks 1.1.0. */
  constructor (private readonly d: SyncDeps, private readonly ch: Channel, private readonly gid: GroupId, private readonly peer: string, readonly v11: boolean) { this.state = newSessionState(v11) }

  get view (): SetView { return this.d.indexes.view(this.gid) }

  /** Send our records for a turn, then its ranges. */
  async sendTurn (t: Turn): Promise<void> {
    let batch: Uint8Array[] = []
    let size = 0
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      await this.ch.send({ recs: batch })
      this.sent += batch.length
      batch = []; size = 0
    }
    const push = async (bytes: Uint8Array): Promise<void> => {
      batch.push(bytes); size += bytes.length
      if (size >= BATCH_BYTES) await flush()
    }
    // Descriptors first, so a peer new to the group can judge what follows.
    if (t.sendAll.length > 0 || t.send.length > 0) {
      const want = new Set(t.send.map(h => toHex(h)))
      const descs = this.d.store.allOfKind(this.gid, 'desc').filter(r => want.has(r.hash.toString('hex')) || t.sendAll.some(n => inNode(r.hash, n.d, n.i)))
      for (const r of descs) { want.delete(r.hash.toString('hex')); await push(r.bytes) }
      const sentDesc = new Set(descs.map(r => r.hash.toString('hex')))
      for (const hex of want) {
        const row = this.d.store.getByHash(this.gid, Buffer.from(hex, 'hex'))
        if (row !== undefined) await push(row.bytes)
      }
      for (const n of t.sendAll) {
        const { lo, hi } = nodeBounds(n.d, n.i)
        for (const r of this.d.store.recordsInRange(this.gid, lo, hi)) if (!sentDesc.has(r.hash.toString('hex'))) await push(r.bytes)
      }
      await flush()
    }
    const r = t.ranges.map(toWire)
    const before = this.ch.bytesOut
    await this.ch.send({ r })
    this.reconcileBytes += this.ch.bytesOut - before
  }

  /** Read one peer turn: apply its records as they arrive; return its ranges. */
  async recvTurn (): Promise<Range[] | 'done'> {
    // Batches read but not yet stored, oldest first; each stores after the one
    // before it, so the last settles when all have. Reading pauses at PAUSE_AT,
    // so a fast sender waits on the stream's flow control instead of this side
    // buffering its whole turn (and the sender's read of our answer timing
    // out while we work through it).
    const inFlight: Array<Promise<void>> = []
    for (;;) {
      if (inFlight.length >= PAUSE_AT) {
        this.ch.pause()
        try { while (inFlight.length > RESUME_AT) await inFlight.shift() } finally { this.ch.resume() }
      }
      const before = this.ch.bytesIn
      const m = await this.ch.recv<{ recs?: unknown, r?: unknown, done?: unknown, err?: unknown }>()
      if (m.err === BUSY) throw new Declined('the peer is syncing this group with us')
      if (typeof m.err === 'string') throw new CairnError('NOT_FOUND', `peer refused: ${m.err.slice(0, 100)}`)
      if (m.done !== undefined) { await inFlight.at(-1); return 'done' }
      if (m.recs !== undefined) {
        if (!Array.isArray(m.recs) || !m.recs.every(x => x instanceof Uint8Array)) throw new ProtocolError('bad records message')
        this.d.onRecords?.(this.ch.bytesIn - before)
        // Verify this batch (worker threads) while the previous one is stored.
        const checked = this.d.verifier.check(this.notHeld(m.recs as Uint8Array[]), this.d.maxRecordBytes)
        const prev = inFlight.at(-1)
        const stored = (async () => { const c = await checked; await prev; this.apply(c) })()
        stored.catch(() => {}) // awaited later (shift or the end of the turn)
        inFlight.push(stored)
        continue
      }
      await inFlight.at(-1)
      if (!Array.isArray(m.r)) throw new ProtocolError('turn without ranges')
      this.reconcileBytes += this.ch.bytesIn - before
      return rangesOf(m.r)
    }
  }

  /**
   * The records of a batch this node does not hold byte for byte. When both
   * sides open a session at once (a new keeper's group-added beside the
   * owner's delivery) the second repeats the first's records: each was
   * verified and checked again only to be found a duplicate (~100 µs of a
   * verifier thread each, on the cores the keeper's main thread needs). A
   * copy whose SHA-256 a stored record has is that record: dropped here,
   * nothing stored; any other bytes are verified as before.
   */
  private notHeld (recs: Uint8Array[]): Uint8Array[] {
    const hexes = recs.map(b => toHex(sha256(b)))
    const held = this.d.store.heldHashes(this.gid, hexes)
    return held.size === 0 ? recs : recs.filter((_, i) => !held.has(hexes[i]!))
  }

  private apply (checked: Awaited<ReturnType<Verifier['check']>>): void {
    const items: Incoming[] = checked.map(c => c.ok ? c.rec : { refused: c.reason })
    // Records refused because our view is behind are retried at the end of the session: counted then, once.
    // Without an fsync per batch (store.relaxed; docs/SYNC.md "Durability of received records"): nobody
    // was acknowledged for them, and what a power loss drops the next session fetches again.
    const res = this.d.store.relaxed(() => this.d.acceptor.ingest(items, 'sync', { peer: this.peer, group: this.gid, deferBehind: true }))
    res.forEach((r, k) => {
      const c = checked[k]!
      if (r.status === 'stored') this.received++
      else if (r.status === 'rejected' && r.reason !== undefined && isBehind(r.reason) && c.ok && this.retry.length < MAX_RETRY) this.retry.push(c.rec)
    })
    this.d.onProgress?.(this.gid, this.received)
  }

  /** Records that arrived before their descriptor get one more chance. */
  retryDeferred (): void {
    if (this.retry.length === 0) return
    const again = this.retry
    this.retry = []
    for (const r of this.d.store.relaxed(() => this.d.acceptor.ingest(again, 'sync', { peer: this.peer, group: this.gid }))) if (r.status === 'stored') this.received++
  }
}

const inNode = (h: Uint8Array, d: number, i: number): boolean => {
  const { lo, hi } = nodeBounds(d, i)
  return Buffer.compare(h, lo) >= 0 && (hi === undefined || Buffer.compare(h, hi) < 0)
}

export class SyncService {
  /** Sessions under way, either direction: the tie-break reads them. */
  readonly sessions = new SyncSessions()
  private stopped = false

  constructor (private readonly d: SyncDeps) {}

  async start (): Promise<void> {
    for (const p of SYNC_PROTOCOLS) await this.d.libp2p.handle(p, (stream, conn) => { void this.serve(stream, conn) }, { maxInboundStreams: 16 })
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.sessions.close()
    for (const p of SYNC_PROTOCOLS) await this.d.libp2p.unhandle(p)
  }

  /**
   * Run one session as initiator, unless one for this peer and group runs the
   * other way (the tie-break, see the header): then its outcome is ours
   * (`via: 'peer'`), or with `fresh` (the sets must be compared after the
   * caller's latest writes) ours runs after it. Never throws: errors are in the report.
   * Refused before any turn, it tries once more with the group's newest
   * descriptors in the opening: a fellow holder whose view is behind (it has
   * not yet the descriptor naming this node: a keeper just added, a member
   * just invited) learns them and may then let us in.
   */
  async syncWith (peer: PeerId, gid: GroupId, fresh = false): Promise<SyncReport> {
    const id = peer.toString()
    for (let declined = 0; ; declined++) {
      const theirs = this.sessions.get(id, gid, 'responder')
      if (theirs !== undefined) {
        const r = await theirs
        if (!fresh && r.error === undefined) return { ...r, via: 'peer' }
      }
      const h = this.sessions.begin(id, gid, 'initiator')
      const began = Date.now()
      let a = await this.attempt(peer, gid, undefined)
      if (a.refused) {
        const descs = newestDescriptors(this.d.store, gid, this.d.maxMessageBytes)
        if (descs.length > 0) {
          this.d.log.debug({ peer: id, group: gid }, 'sync refused: trying again with our newest descriptors')
          a = await this.attempt(peer, gid, descs)
        }
      }
      h.end(a.report)
      if (!a.declined) { this.d.onSession?.(a.report, 'initiator', began); return a.report }
      // Not an error: the pair is syncing. Wait for the winner's session (its
      // opening may still be on its way) and take its outcome, or run ours after it.
      this.d.log.debug({ peer: id, group: gid }, 'sync: the peer is already syncing this group with us; waiting for its session')
      const winner = await this.sessions.served(id, gid, this.d.timeoutMs, began)
      const r = winner === undefined ? undefined : await winner
      if (r !== undefined && r.error === undefined && !fresh) return { ...r, via: 'peer' }
      if (this.stopped || declined + 1 >= MAX_DECLINED) return { ...(r ?? a.report), error: undefined, via: 'peer' }
    }
  }

  private async attempt (peer: PeerId, gid: GroupId, descs: Uint8Array[] | undefined): Promise<{ report: SyncReport, refused: boolean, declined: boolean }> {
    const peerId = peer.toString()
    let ch: Channel | undefined
    let s: Session | undefined
    let roundTrips = 0
    try {
      const stream = await this.d.libp2p.dialProtocol(peer, SYNC_PROTOCOLS, { signal: AbortSignal.timeout(this.d.timeoutMs) })
      ch = new Channel(stream, this.d.maxMessageBytes, this.d.timeoutMs)
      s = new Session(this.d, ch, gid, peerId, stream.protocol === SYNC_PROTOCOL_1_1)
      const open = openingTurn(s.view, s.v11)
      const before = ch.bytesOut
      await ch.send({ g: uuidToBytes(gid), r: open.ranges.map(toWire), ...(descs !== undefined ? { d: descs } : {}) })
      s.reconcileBytes += ch.bytesOut - before
      for (let turn = 0; ; turn++) {
        if (turn > MAX_TURNS) throw new ProtocolError('too many turns')
        const ranges = await s.recvTurn()
        roundTrips++
        if (ranges === 'done') break
        // An empty turn still gets our check of the ranges we answered with ids.
        const t = respond(s.view, ranges, s.state)
        if (ranges.length === 0 && t.ranges.length === 0) { s.retryDeferred(); await ch.send({ done: s.received }); break }
        await s.sendTurn(t)
      }
      s.retryDeferred()
      await ch.close()
      return { report: reportOf(peerId, gid, ch, s, roundTrips), refused: false, declined: false }
    } catch (e) {
      ch?.abort('sync failed')
      s?.retryDeferred()
      return { report: reportOf(peerId, gid, ch, s, roundTrips, (e as Error).message), refused: roundTrips === 0 && e instanceof CairnError && e.code === 'NOT_FOUND' && descs === undefined, declined: e instanceof Declined }
    }
  }

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peerId = conn.remotePeer.toString()
    const ch = new Channel(stream, this.d.maxMessageBytes, this.d.timeoutMs)
    let s: Session | undefined
    let session: { end: (r: SyncReport) => void } | undefined
    let gid: GroupId | undefined
    const report = (error?: string): SyncReport => reportOf(peerId, error === undefined ? gid : undefined, ch, s, 0, error)
    try {
      const open = await ch.recv<{ g?: unknown, r?: unknown, d?: unknown }>()
      try { gid = groupIdFromBytes(open.g as Uint8Array) } catch { throw new ProtocolError('bad group') }
      // Declined: the tie-break (our session with this peer for this group is under way and we have
      // the lower peer ID: ours goes on), and any while the group, just adopted, fills from another peer.
      const filling = this.d.fillingFrom?.(gid)
      if ((this.sessions.get(peerId, gid, 'initiator') !== undefined && this.d.libp2p.peerId.toString() < peerId) || (filling !== undefined && filling !== peerId)) {
        await ch.send({ err: BUSY })
        await ch.close()
        this.d.log.debug({ peer: peerId, group: gid }, filling !== undefined ? 'sync opening declined: the group is being filled from another peer' : 'sync opening declined: our session with this peer for this group is under way')
        return
      }
      session = this.sessions.begin(peerId, gid, 'responder')
      const holds = this.d.holds(gid)
      let ok = holds && await this.d.authorize(peerId, gid)
      if (!ok && holds && open.d !== undefined) ok = await learnDescriptors(this.d, peerId, gid, open.d) && await this.d.authorize(peerId, gid)
      if (!ok) {
        await ch.send({ err: 'not-found' })
        await ch.close()
        session.end(report('refused'))
        return
      }
      s = new Session(this.d, ch, gid, peerId, stream.protocol === SYNC_PROTOCOL_1_1)
      if (!Array.isArray(open.r)) throw new ProtocolError('open without ranges')
      let ranges: Range[] | 'done' = rangesOf(open.r)
      for (let turn = 0; ; turn++) {
        if (turn > MAX_TURNS) throw new ProtocolError('too many turns')
        if (ranges === 'done') break
        const t = respond(s.view, ranges, s.state)
        if (t.iblt !== undefined) this.d.onIblt?.(t.iblt)
        if (ranges.length === 0 && t.ranges.length === 0) { s.retryDeferred(); await ch.send({ done: s.received }); break }
        await s.sendTurn(t)
        ranges = await s.recvTurn()
      }
      s.retryDeferred()
      await ch.close()
      const r = report()
      this.d.onSession?.(r, 'responder', ch.openedAt)
      session.end(r)
    } catch (e) {
      ch.abort('sync failed')
      s?.retryDeferred()
      if (e instanceof ProtocolError) this.d.acceptor.ingest([{ refused: 'malformed' }], 'sync', { peer: peerId })
      this.d.log.debug({ peer: peerId, err: (e as Error).message }, 'sync session (responder) failed')
      const r = report((e as Error).message)
      this.d.onSession?.(r, 'responder', ch.openedAt)
      session?.end(r)
    }
  }
}
