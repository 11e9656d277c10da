/**
 * Protocol services without a network: each MemoryHost stands in for the part
 * of libp2p a protocol uses (StreamHost: handle, unhandle, dialProtocol, and
 * the connect events hello listens to), and a dial hands the two ends of an
 * in-memory stream pair (`streamPair` from @libp2p/utils, as js-libp2p tests its
 * protocols) to the dialler and to the remote host's handler.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'

export class MemoryHost {
  readonly handlers = new Map<string, StreamHandler>()
  private readonly listeners = new Map<string, Array<(e: CustomEvent<PeerId>) => void>>()
  /** Streams dialled from here, by protocol (tests count sessions with it). */
  readonly dialled: string[] = []

  private constructor (readonly peerId: PeerId, private readonly net: MemoryNet) {}

  static async create (net: MemoryNet): Promise<MemoryHost> {
    const h = new MemoryHost(peerIdFromPrivateKey(await generateKeyPair('Ed25519')), net)
    net.hosts.set(h.peerId.toString(), h)
    return h
  }

  async handle (protocol: string, handler: StreamHandler): Promise<void> { this.handlers.set(protocol, handler) }
  async unhandle (protocol: string): Promise<void> { this.handlers.delete(protocol) }

  /** Several protocols: the first the remote handles, as multistream-select picks. */
  async dialProtocol (peer: PeerId, protocols: string | string[]): Promise<Stream> {
    const remote = this.net.hosts.get(peer.toString())
    const protocol = [protocols].flat().find(p => remote?.handlers.has(p) === true) ?? [protocols].flat()[0]!
    const handler = remote?.handlers.get(protocol)
    if (remote === undefined || handler === undefined) throw new Error(`${peer.toString()} does not speak ${protocol}`)
    this.dialled.push(protocol)
    const [out, inb] = await streamPair({ protocol })
    void handler(inb, { remotePeer: this.peerId } as unknown as Connection)
    return out
  }

  getPeers (): PeerId[] { return [...this.net.hosts.values()].filter(h => h !== this).map(h => h.peerId) }

  addEventListener (type: string, fn: (e: CustomEvent<PeerId>) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn])
  }

  /** As libp2p does when a connection to `peer` opens. */
  connected (peer: MemoryHost): void {
    for (const fn of this.listeners.get('peer:connect') ?? []) fn(new CustomEvent('peer:connect', { detail: peer.peerId }))
  }
}

export class MemoryNet {
  readonly hosts = new Map<string, MemoryHost>()
}
