/**
 * A hostile libp2p peer in the test process: the same libp2p stack as a cairn
 * node (createNetwork), driven by hand. It can present a hello (with a binding
 * signed by any entity key the test holds, or a forged one), publish arbitrary
 * bytes on a group's gossipsub topic, and speak /cairn/sync/1.0.0 with arbitrary
 * frames — well-formed turns carrying bad records, or garbage.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { decode as cborDecode } from 'cborg'
import { encodeCanonical } from '../../src/crypto/canonical.js'
import { uuidToBytes } from '../../src/crypto/ids.js'
import type { SigningKey } from '../../src/crypto/sign.js'
import { HELLO_PROTOCOL, signBindingStatement, type Binding } from '../../src/replication/hello.js'
import { createNetwork, type CairnLibp2p } from '../../src/replication/libp2p-node.js'
import { topicOf } from '../../src/replication/push.js'
import { SYNC_PROTOCOL } from '../../src/replication/sync-protocol.js'
import { waitFor } from './cli.js'

const MAX = 16 * 1024 * 1024

/** A frame to send as is: bytes go out raw (length-prefixed), anything else as canonical CBOR. */
export type Frame = Uint8Array | Record<string, unknown> | unknown[]

export interface SyncOutcome {
  /** Messages the node sent, decoded (undecodable ones as raw bytes). */
  received: unknown[]
  /** How the stream ended: the node closed it, reset it, or we gave up waiting. */
  end: 'closed' | 'reset' | 'timeout'
}

export class HostilePeer {
  private constructor (readonly libp2p: CairnLibp2p) {}

  static async create (): Promise<HostilePeer> {
    const libp2p = await createNetwork({
      privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false,
      inboundPerSecond: 100, maxConnections: 50, maxRecordBytes: MAX, privateAddresses: true
    })
    const pubsub = libp2p.services.pubsub
    // Honest records the node forwards to us: never vouch for them.
    pubsub.addEventListener('gossipsub:message', (e) => {
      try { (pubsub as unknown as { reportMessageValidationResult: (id: string, from: string, r: TopicValidatorResult) => void }).reportMessageValidationResult(e.detail.msgId, e.detail.propagationSource.toString(), TopicValidatorResult.Ignore) } catch { /* gone */ }
    })
    return new HostilePeer(libp2p)
  }

  get peerId (): string { return this.libp2p.peerId.toString() }

  async connect (addr: string): Promise<string> {
    const c = await this.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
    return c.remotePeer.toString()
  }

  /** A binding "entity runs this peer", signed by the entity key. */
  bindingFor (entity: SigningKey): Binding { return signBindingStatement(entity, this.peerId) }

  /** Send our hello to `peer` (optionally with a binding) and return its hello. */
  async hello (peer: string, binding?: Binding): Promise<unknown> {
    const out = await this.exchange(peer, HELLO_PROTOCOL, [{ v: 1, peer: this.peerId, keeper: false, ...(binding !== undefined ? { b: binding } : {}) }], 1)
    return out.received[0]
  }

  async subscribe (gid: string, nodes: string[]): Promise<void> {
    const t = topicOf(gid)
    this.libp2p.services.pubsub.subscribe(t)
    await waitFor(`gossipsub subscription of ${nodes.length} node(s) to the topic seen`, () => {
      const subs = this.libp2p.services.pubsub.getSubscribers(t).map(String)
      return nodes.every(n => subs.includes(n))
    }, 15_000)
  }

  async publish (gid: string, data: Uint8Array): Promise<number> {
    const r = await this.libp2p.services.pubsub.publish(topicOf(gid), data)
    return r.recipients.length
  }

  /**
   * Open a sync session for `gid` the way an initiator does, but ask about
   * nothing real (a NEED for an id no record has), so the node answers with an
   * empty turn; then hand it `records` as our turn and end with no ranges.
   * Returns the node's final answer ({done: n} = records it stored).
   */
  async pushBySync (peer: string, gid: string, records: Uint8Array[]): Promise<SyncOutcome> {
    const frames: Array<Frame | 'wait-for-ranges'> = [
      { g: uuidToBytes(gid), r: [[2, 1, 0, new Uint8Array([0xde, 0xad, 0x00])]] },
      'wait-for-ranges',
      ...(records.length > 0 ? [{ recs: records }] : []),
      { r: [] }
    ]
    // A node syncs with a group peer that said hello (its own session, opened at
    // once): while that runs, crossing openings go to the lower peer ID and ours
    // may be declined `busy` (sync-protocol.ts). As any initiator, open again
    // once theirs ended; this peer serves no sync, so theirs ends quickly.
    let out = await this.exchange(peer, SYNC_PROTOCOL, frames)
    for (let i = 0; i < 40 && out.received.some(m => (m as { err?: string } | undefined)?.err === 'busy'); i++) {
      await new Promise(resolve => setTimeout(resolve, 250))
      out = await this.exchange(peer, SYNC_PROTOCOL, frames)
    }
    return out
  }

  /** Send frames on a new sync stream and read whatever comes back. */
  async syncFrames (peer: string, frames: Array<Frame | 'wait-for-ranges'>): Promise<SyncOutcome> {
    return await this.exchange(peer, SYNC_PROTOCOL, frames)
  }

  /** Send frames on a new stream of any protocol (hello, deliver, shares…) and read what comes back. */
  async frames (peer: string, protocol: string, frames: Frame[], maxReads = 4): Promise<SyncOutcome> {
    return await this.exchange(peer, protocol, frames, maxReads)
  }

  /**
   * One stream: write the frames in order ('wait-for-ranges' reads until the node
   * sends a message with `r`), then read until the stream ends or `maxReads`.
   */
  private async exchange (peer: string, protocol: string, frames: Array<Frame | 'wait-for-ranges'>, maxReads = 16): Promise<SyncOutcome> {
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), protocol, { signal: AbortSignal.timeout(10_000) })
    const lp = lpStream(stream, { maxDataLength: MAX, maxBufferSize: MAX + 16 })
    const received: unknown[] = []
    const read = async (): Promise<unknown> => {
      const list = await lp.read({ signal: AbortSignal.timeout(10_000) })
      const bytes = list.subarray()
      let v: unknown
      try { v = cborDecode(bytes, { useMaps: false }) } catch { v = bytes }
      received.push(v)
      return v
    }
    const ended = (e: unknown): SyncOutcome['end'] => {
      const name = (e as Error)?.name ?? ''
      const msg = (e as Error)?.message ?? ''
      if (/timeout|abort/i.test(name) && !/reset|StreamReset/i.test(msg + name)) return 'timeout'
      return /EOF|closed|UnexpectedEOF/i.test(name + msg) ? 'closed' : 'reset'
    }
    try {
      for (const f of frames) {
        if (f === 'wait-for-ranges') {
          for (;;) { const m = await read() as Record<string, unknown>; if (m !== null && typeof m === 'object' && ('r' in m || 'err' in m || 'done' in m)) break }
          continue
        }
        await lp.write(f instanceof Uint8Array ? f : encodeCanonical(f), { signal: AbortSignal.timeout(10_000) })
      }
      for (let k = 0; k < maxReads; k++) await read()
      await stream.close().catch(() => {})
      return { received, end: 'closed' }
    } catch (e) {
      stream.abort(new Error('hostile peer done'))
      return { received, end: ended(e) }
    }
  }

  /**
   * Answer `protocol` ourselves: `fn` gets each inbound stream as
   * length-prefixed CBOR (read → decoded value, write ← value), to play a
   * peer that answers slowly, resets mid-batch, or lies.
   */
  async serve (protocol: string, fn: (io: { read: (timeoutMs?: number) => Promise<any>, write: (v: unknown) => Promise<void>, abort: () => void }) => Promise<void>): Promise<void> {
    await this.libp2p.handle(protocol, (stream) => {
      const lp = lpStream(stream, { maxDataLength: MAX, maxBufferSize: MAX + 16 })
      const io = {
        read: async (timeoutMs = 20_000) => cborDecode((await lp.read({ signal: AbortSignal.timeout(timeoutMs) })).subarray(), { useMaps: false }),
        write: async (v: unknown) => { await lp.write(encodeCanonical(v), { signal: AbortSignal.timeout(10_000) }) },
        abort: () => { stream.abort(new Error('hostile peer resets the stream')) }
      }
      void fn(io).then(async () => { await stream.close().catch(() => {}) }, () => { stream.abort(new Error('hostile handler failed')) })
    }, { maxInboundStreams: 32, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> { await this.libp2p.stop() }
}
