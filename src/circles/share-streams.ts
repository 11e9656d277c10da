/**
 * The requester's idle /cairn/shares/1.2.0 streams, per libp2p node and holder peer.
 *
 * Opening a stream costs a muxer frame each way, a multistream-select round trip
 * and a peer-store update on both ends before the request can go out: on loopback
 * that was most of what a holder added to an unseal beyond its own work. A stream
 * whose exchange ended with a share is kept for the next request to that peer.
 *
 * Invariants: a stream is taken by one request at a time (taken out of the pool
 * while in use); only a stream whose last exchange completed (a share came back)
 * is returned; a stream that closed, or was idle for IDLE_MS, leaves the pool. The
 * holder keeps an idle stream longer (HOLDER_IDLE_MS) than the requester does, so
 * the requester, not the holder, ends one nobody uses — a request written just as
 * the holder ended it anyway is retried once on a fresh stream (share-protocol.ts).
 */
import type { PeerId } from '@libp2p/interface'
import type { Channel } from '../replication/channel.js'
import type { CairnLibp2p } from '../replication/libp2p-node.js'

/** How long the requester keeps an idle share stream, ms. */
export const IDLE_MS = 10_000
/** How long a holder waits on an idle share stream for the next request, ms. */
export const HOLDER_IDLE_MS = 30_000
/** Idle streams kept per holder peer (a second key version asks the same holder at once). */
const PER_PEER = 2

interface Idle { ch: Channel, timer: NodeJS.Timeout, off: () => void }

class StreamPool {
  private readonly idle = new Map<string, Idle[]>()

  take (peer: PeerId): Channel | undefined {
    const list = this.idle.get(peer.toString())
    for (let e = list?.pop(); e !== undefined; e = list?.pop()) {
      this.forget(peer.toString(), e)
      if (e.ch.stream.status === 'open' && e.ch.stream.writeStatus === 'writable' && e.ch.stream.readStatus === 'readable') return e.ch
      e.ch.abort('stale share stream')
    }
    return undefined
  }

  give (peer: PeerId, ch: Channel): void {
    const key = peer.toString()
    const list = this.idle.get(key) ?? []
    if (list.length >= PER_PEER || ch.stream.status !== 'open') { ch.closeSoon(); return }
    const e: Idle = { ch, timer: setTimeout(() => { this.drop(key, e) }, IDLE_MS), off: () => {} }
    e.timer.unref()
    const onClose = (): void => { this.drop(key, e) }
    ch.stream.addEventListener('close', onClose, { once: true })
    e.off = () => { ch.stream.removeEventListener('close', onClose) }
    list.push(e)
    this.idle.set(key, list)
  }

  /** Close every idle stream (the node stops, or a caller wants the next requests on fresh streams). */
  clear (): void {
    for (const [key, list] of this.idle) for (const e of [...list]) this.drop(key, e)
  }

  private drop (key: string, e: Idle): void {
    if (this.forget(key, e)) e.ch.closeSoon()
  }

  private forget (key: string, e: Idle): boolean {
    clearTimeout(e.timer)
    e.off()
    const list = this.idle.get(key)
    const i = list?.indexOf(e) ?? -1
    if (i >= 0) list!.splice(i, 1)
    if (list?.length === 0) this.idle.delete(key)
    return i >= 0
  }
}

const pools = new WeakMap<CairnLibp2p, StreamPool>()

/** The idle share streams of one libp2p node. */
export function shareStreams (libp2p: CairnLibp2p): StreamPool {
  let p = pools.get(libp2p)
  if (p === undefined) { p = new StreamPool(); pools.set(libp2p, p) }
  return p
}
