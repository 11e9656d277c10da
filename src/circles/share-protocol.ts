/**
 * /cairn/shares/1.2.0 — ask one holder for its share of a circle key.
 *
 *   → { q: { g: group(16), kv, n: nonce(16), ts: ms, e: requester(32), h: holder(32), w: ms }, s: sig(64) }
 *   ← { wait: until(ms) }          only if the holder queued the request for a person (manual)
 *   ← { x, sv, epk, nonce, ct }  |  { err: reason }
 *
 * s = Ed25519 by the requester's entity key over "cairn/share-request/v1" || 0x00 || CBOR(q):
 * the request names the holder, so it cannot be redirected, and carries a fresh
 * nonce and timestamp. The holder answers only a current member of the circle,
 * only within `maxAgeMs` of `ts` (and not for requests older than its own start),
 * never twice for one nonce, and only if its approval policy allows. A manual
 * holder queues the request for its owner for at most `w` (how long the requester
 * will wait for a person; the holder caps it with its own approval window), says
 * so with `wait`, and keeps the stream open; the request ends with the decision,
 * the deadline, or the requester closing the stream. The share travels wrapped
 * for the requester (keywrap.ts) with the nonce bound into the context, so a
 * captured answer opens for nobody else and in no other request.
 * Limits: 4 KiB messages; `w` ≤ 1 h; the requester waits `timeoutMs` for the first
 * answer and, after `wait`, until the holder's deadline (plus a little slack).
 * After a share (not after a refusal) a 1.2.0 stream carries the requester's next
 * request, one at a time, each signed and checked as the first; the holder ends a
 * stream idle for HOLDER_IDLE_MS (share-streams.ts). A 1.1.0 stream carries one.
 * A requester that no longer needs a share cuts the stream (ending the holder's
 * queued request) once the holder said `wait`; before that, the answer already on
 * its way is let in, dropped unopened, and the stream kept.
 * 1.2.0 added reuse (a fresh stream per request was most of a holder's part of an
 * unseal on loopback); 1.1.0 added `w` and the `wait` message (1.0.0 let a person
 * answer only within the requester's network timeout, 10 s).
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { concat, utf8, toHex } from '../crypto/bytes.js'
import { encodeCanonical } from '../crypto/canonical.js'
import { randomBytes } from '../crypto/hash.js'
import { groupIdFromBytes, uuidToBytes, type GroupId } from '../crypto/ids.js'
import { unwrapWith, wrapFor, type Wrapped } from '../crypto/keywrap.js'
import { sign, verify, type SigningKey } from '../crypto/sign.js'
import { Channel } from '../replication/channel.js'
import type { CairnLibp2p } from '../replication/libp2p-node.js'
import { CairnError } from '../util/errors.js'
import { HOLDER_IDLE_MS, shareStreams } from './share-streams.js'
import type { Logger } from '../util/logger.js'

export const SHARES_PROTOCOL = '/cairn/shares/1.2.0'
/** One request per stream; still served, and dialled when a holder does not speak 1.2.0. */
export const SHARES_PROTOCOL_1_1 = '/cairn/shares/1.1.0'
const MAX = 4096
/** The longest a requester may ask a holder to keep a request for a person, ms. */
export const MAX_WAIT_MS = 3_600_000

export interface ShareRequest { g: Uint8Array, kv: number, n: Uint8Array, ts: number, e: Uint8Array, h: Uint8Array, w: number }
export interface ShareGrant { x: number, sv: number, share: Uint8Array }
/** `released` audits the release: called once the share went out (or failed to), off the answer's path. */
export type HolderAnswer = { ok: true, grant: ShareGrant, released: () => void } | { ok: false, reason: string }

const requestMessage = (q: ShareRequest): Uint8Array => concat(utf8('cairn/share-request/v1'), new Uint8Array([0]), encodeCanonical(q))
/** What a share's wrap is bound to: this request (its nonce), this share, this requester. */
export const transferInfo = (q: ShareRequest, x: number, sv: number): Uint8Array =>
  encodeCanonical({ d: 'cairn/share-transfer/v1', g: q.g, kv: q.kv, to: q.e, n: q.n, x, sv })

export function signShareRequest (requester: SigningKey, gid: GroupId, kv: number, holder: Uint8Array, now = Date.now(), waitMs = 10_000): { q: ShareRequest, s: Uint8Array } {
  const q: ShareRequest = { g: uuidToBytes(gid), kv, n: randomBytes(16), ts: now, e: requester.publicKey, h: holder, w: Math.max(0, Math.min(MAX_WAIT_MS, Math.floor(waitMs))) }
  return { q, s: sign(requester, requestMessage(q)) }
}

function parseRequest (m: Record<string, unknown>): { q: ShareRequest, s: Uint8Array } | undefined {
  const q = m.q as Record<string, unknown> | undefined
  const s = m.s
  if (q === null || typeof q !== 'object' || !(s instanceof Uint8Array) || s.length !== 64) return undefined
  const ok = q.g instanceof Uint8Array && q.g.length === 16 && typeof q.kv === 'number' && Number.isSafeInteger(q.kv) && q.kv >= 1 &&
    q.n instanceof Uint8Array && q.n.length === 16 && typeof q.ts === 'number' && Number.isSafeInteger(q.ts) &&
    q.e instanceof Uint8Array && q.e.length === 32 && q.h instanceof Uint8Array && q.h.length === 32 &&
    typeof q.w === 'number' && Number.isSafeInteger(q.w) && q.w >= 0 && q.w <= MAX_WAIT_MS && Object.keys(q).length === 7
  return ok ? { q: q as unknown as ShareRequest, s } : undefined
}

export interface ShareServerDeps {
  libp2p: CairnLibp2p
  /** This node's entity key, or undefined (keeper, or vault locked). */
  me: () => SigningKey | undefined
  maxAgeMs: number
  startedAt: number
  /**
   * Membership, policy and the share itself: the circle service decides. It calls
   * `queued(until)` when it puts the request before a person (the requester is told).
   */
  decide: (gid: GroupId, q: ShareRequest, peer: string, gone: AbortSignal, queued: (until: number) => Promise<void>) => Promise<HolderAnswer>
  onRefused: (gid: GroupId | undefined, q: ShareRequest | undefined, peer: string, reason: string) => void
  log: Logger
  timeoutMs: number
}

export class ShareServer {
  private readonly seen = new Map<string, number>()

  constructor (private readonly d: ShareServerDeps) {}

  async start (): Promise<void> { await this.d.libp2p.handle([SHARES_PROTOCOL, SHARES_PROTOCOL_1_1], (s, c) => { void this.serve(s, c) }, { maxInboundStreams: 32 }) }
  async stop (): Promise<void> { await this.d.libp2p.unhandle([SHARES_PROTOCOL, SHARES_PROTOCOL_1_1]) }

  /** Pure admission checks; undefined = admissible. Records the nonce when admitted. */
  admit (q: ShareRequest, s: Uint8Array, now = Date.now()): string | undefined {
    const me = this.d.me()
    if (me === undefined) return 'holder-locked'
    if (Buffer.compare(q.h, me.publicKey) !== 0) return 'wrong-holder'
    if (!verify(q.e, requestMessage(q), s)) return 'bad-signature'
    if (Math.abs(now - q.ts) > this.d.maxAgeMs || q.ts < this.d.startedAt - 1000) return 'stale'
    for (const [k, t] of this.seen) if (now - t > 2 * this.d.maxAgeMs) this.seen.delete(k)
    const key = toHex(q.n)
    if (this.seen.has(key)) return 'replay'
    if (this.seen.size > 100_000) return 'busy'
    this.seen.set(key, now)
    return undefined
  }

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const ch = new Channel(stream, MAX, this.d.timeoutMs)
    const gone = new AbortController()
    stream.addEventListener('close', () => { gone.abort() }, { once: true })
    // The requester may have gone already (it had its shares before this one was read): no event will come.
    if (stream.status !== 'open') gone.abort()
    try {
      let m = await ch.recv()
      for (;;) {
        if (!await this.answer(ch, m, peer, gone.signal) || stream.protocol !== SHARES_PROTOCOL) { await ch.close(); return }
        // The requester may send its next request here, or end the stream (or let it idle out).
        const next = await ch.recv(HOLDER_IDLE_MS).catch(() => undefined)
        if (next === undefined) { ch.closeSoon(); return }
        m = next
      }
    } catch (e) {
      ch.abort('share request failed')
      this.d.log.debug({ peer, err: (e as Error).message }, 'share request failed')
    }
  }

  /** One request on `ch`: true if a share went back (the stream may carry another), false after a refusal. */
  private async answer (ch: Channel, m: Record<string, unknown>, peer: string, gone: AbortSignal): Promise<boolean> {
    let gid: GroupId | undefined
    const parsed = parseRequest(m)
    if (parsed === undefined) { this.d.onRefused(undefined, undefined, peer, 'malformed'); await ch.send({ err: 'malformed' }); return false }
    const q = parsed.q
    try { gid = groupIdFromBytes(q.g) } catch { gid = undefined }
    const why = gid === undefined ? 'malformed' : this.admit(q, parsed.s)
    if (why !== undefined) { this.d.onRefused(gid, q, peer, why); await ch.send({ err: why }); return false }
    const ans = await this.d.decide(gid!, q, peer, gone, async until => { await ch.send({ wait: until }) })
    if (!ans.ok) { this.d.onRefused(gid, q, peer, ans.reason); await ch.send({ err: ans.reason }); return false }
    const w = wrapFor(q.e, ans.grant.share, transferInfo(q, ans.grant.x, ans.grant.sv))
    ans.grant.share.fill(0)
    try { await ch.send({ x: ans.grant.x, sv: ans.grant.sv, epk: w.epk, nonce: w.nonce, ct: w.ct }) } finally { ans.released() }
    return true
  }
}

export interface RequestOptions {
  /** How long a person may take to answer (manual holders), ms; default 0 = the network timeout only. */
  waitMs?: number
  /** The holder queued the request for a person until `until` (ms since the epoch). */
  onWait?: (until: number) => void
  /** Abort: the stream closes and the holder's request ends with it. */
  signal?: AbortSignal
}

type Answer = { x?: unknown, sv?: unknown, epk?: unknown, nonce?: unknown, ct?: unknown, err?: unknown, wait?: unknown }

/**
 * Requester side: one request to one holder's node, on an idle stream to it when
 * there is one (share-streams.ts), else a fresh one. Throws CairnError with the
 * holder's reason.
 */
export async function requestShare (libp2p: CairnLibp2p, peer: PeerId, me: SigningKey, gid: GroupId, kv: number, holder: Uint8Array, timeoutMs: number, o: RequestOptions = {}): Promise<ShareGrant> {
  for (;;) {
    const idle = shareStreams(libp2p).take(peer)
    try {
      return await requestOn(idle, libp2p, peer, me, gid, kv, holder, timeoutMs, o)
    } catch (e) {
      // An idle stream that failed before any answer (most often: the holder ended it as we wrote): once more, signed afresh, on a fresh stream.
      if (idle === undefined || (e as CairnError).details?.staleStream !== true) throw e
    }
  }
}

async function requestOn (idle: Channel | undefined, libp2p: CairnLibp2p, peer: PeerId, me: SigningKey, gid: GroupId, kv: number, holder: Uint8Array, timeoutMs: number, o: RequestOptions): Promise<ShareGrant> {
  const waitMs = Math.max(0, Math.min(MAX_WAIT_MS, o.waitMs ?? 0))
  const { q, s } = signShareRequest(me, gid, kv, holder, Date.now(), waitMs)
  const signals = [AbortSignal.timeout(timeoutMs), ...(o.signal !== undefined ? [o.signal] : [])]
  let ch: Channel
  if (idle !== undefined) ch = idle
  else {
    let stream: Stream
    try { stream = await libp2p.dialProtocol(peer, [SHARES_PROTOCOL, SHARES_PROTOCOL_1_1], { signal: AbortSignal.any(signals) }) } catch (e) { throw transportError(e, o.signal) }
    ch = new Channel(stream, MAX, timeoutMs)
  }
  // Cancelled before the holder said `wait`: its answer (an auto holder's, on its way) is let in,
  // dropped still wrapped, and the stream kept. Once a person decides, cancelling cuts the stream,
  // which ends the request the holder queued.
  let waiting = false
  let cancelled = false
  const onAbort = (): void => { cancelled = true; if (waiting) ch.abort('request cancelled') }
  o.signal?.addEventListener('abort', onAbort, { once: true })
  if (o.signal?.aborted === true) onAbort()
  let answered = false
  const exchange = (async (): Promise<Answer> => {
    // Cancelled while the stream opened: the holder must not queue a request nobody waits for.
    if (cancelled) throw cancelledError()
    await ch.send({ q, s })
    let r = await ch.recv<Answer>(timeoutMs)
    answered = true
    if (typeof r.wait === 'number' && Number.isSafeInteger(r.wait)) {
      waiting = true
      if (cancelled) throw cancelledError()
      // A person decides: wait until the holder's deadline (never past our own), plus slack for the answer to travel.
      const until = Math.min(r.wait, Date.now() + waitMs)
      o.onWait?.(until)
      r = await ch.recv<Answer>(Math.max(0, until - Date.now()) + Math.min(timeoutMs, 5000))
    }
    return r
  })()
  try {
    const r = await untilCancelled(exchange, o.signal)
    if (typeof r.err === 'string') { ch.closeSoon(); throw new CairnError('FORBIDDEN', r.err.slice(0, 64), { reason: r.err.slice(0, 64) }) }
    if (typeof r.x !== 'number' || typeof r.sv !== 'number' || !(r.epk instanceof Uint8Array) || !(r.nonce instanceof Uint8Array) || !(r.ct instanceof Uint8Array)) {
      throw new CairnError('BAD_SHARE', 'malformed share answer', { reason: 'malformed' })
    }
    const w: Wrapped = { epk: r.epk, nonce: r.nonce, ct: r.ct }
    let share: Uint8Array
    try { share = unwrapWith(me.seed, me.publicKey, w, transferInfo(q, r.x, r.sv)) } catch {
      throw new CairnError('BAD_SHARE', 'the share did not open', { reason: 'unwrap-failed' })
    }
    keep(libp2p, peer, ch, r)
    return { x: r.x, sv: r.sv, share }
  } catch (e) {
    if (cancelled && !waiting) {
      void exchange.then(r => { keep(libp2p, peer, ch, r) }, () => { ch.abort('share request cancelled') })
      throw cancelledError()
    }
    ch.abort('share request failed')
    const err = transportError(e, o.signal)
    if (idle !== undefined && !answered && err.details?.reason === 'unreachable') throw new CairnError(err.code, err.message, { ...err.details, staleStream: true })
    throw err
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
  }
}

/** After a share came on a 1.2.0 stream, the stream waits for the next request; after anything else it closes. */
function keep (libp2p: CairnLibp2p, peer: PeerId, ch: Channel, r: Answer): void {
  if (ch.stream.protocol === SHARES_PROTOCOL && r.ct instanceof Uint8Array && r.err === undefined) shareStreams(libp2p).give(peer, ch)
  else ch.closeSoon()
}

const cancelledError = (): CairnError => new CairnError('TIMEOUT', 'request cancelled', { reason: 'cancelled' })

/** `p`, or a cancelled error as soon as `signal` aborts (`p` goes on). */
async function untilCancelled<T> (p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await p
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(cancelledError()) }
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(v => { signal.removeEventListener('abort', onAbort); resolve(v) }, (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e) })
  })
}

/** Anything but a holder's own answer, as a CairnError whose `reason` says what happened. */
function transportError (e: unknown, signal: AbortSignal | undefined): CairnError {
  if (signal?.aborted === true) return new CairnError('TIMEOUT', 'request cancelled', { reason: 'cancelled' })
  const name = (e as Error).name
  if (name === 'ProtocolError') return new CairnError('BAD_SHARE', (e as Error).message, { reason: 'malformed' })
  if (e instanceof CairnError) return e
  return new CairnError('TIMEOUT', (e as Error).message, { reason: name === 'AbortError' || name === 'TimeoutError' ? 'timeout' : 'unreachable' })
}
