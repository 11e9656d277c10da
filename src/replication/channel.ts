/**
 * A framed CBOR channel over one libp2p stream: length-prefixed messages with a
 * size cap on both ends and a timeout on every read. Protocol code reads and
 * writes plain objects; malformed frames surface as ProtocolError.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { decodeBounded, encodeCanonical } from '../crypto/canonical.js'
import { CairnError } from '../util/errors.js'

/**
 * The muxer's largest per-stream receive window (libp2p-node.ts). A paused
 * stream holds at most one window, and hands it to the reader on resume on
 * top of what the reader had not yet read: the reader's buffer allows a
 * message plus two windows.
 */
export const STREAM_WINDOW_BYTES = 2 * 2 ** 20

export class ProtocolError extends CairnError {
  static override name = 'ProtocolError'
  constructor (message: string) {
    super('INVALID_INPUT', message)
    this.name = 'ProtocolError'
  }
}

export class Channel {
  private readonly lp: LengthPrefixedStream<Stream>
  bytesIn = 0
  bytesOut = 0
  /** When the stream was opened: a session compares the sets as they were from then on. */
  readonly openedAt = Date.now()

  constructor (readonly stream: Stream, private readonly maxBytes: number, private readonly timeoutMs: number) {
    this.lp = lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + 2 * STREAM_WINDOW_BYTES + 2 ** 20 })
  }

  async send (msg: unknown): Promise<void> {
    const bytes = encodeCanonical(msg)
    if (bytes.length > this.maxBytes) throw new ProtocolError(`message of ${bytes.length} bytes exceeds the ${this.maxBytes}-byte limit`)
    this.bytesOut += bytes.length + varintLen(bytes.length)
    await this.lp.write(bytes, { signal: AbortSignal.timeout(this.timeoutMs) })
  }

  async recv<T = Record<string, unknown>> (timeoutMs = this.timeoutMs): Promise<T> {
    const list = await this.lp.read({ signal: AbortSignal.timeout(timeoutMs) })
    const bytes = list.subarray()
    this.bytesIn += bytes.length + varintLen(bytes.length)
    let v: unknown
    try { v = decodeBounded(bytes, { useMaps: false, rejectDuplicateMapKeys: true, allowUndefined: false, allowIndefinite: false }) } catch {
      throw new ProtocolError('undecodable message')
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('message is not a map')
    return v as T
  }

  /**
   * Stop taking data from the peer: the muxer withholds window updates, so
   * the sender blocks once its window is used.
   */
  pause (): void { try { this.stream.pause() } catch { /* closing */ } }
  resume (): void { try { this.stream.resume() } catch { /* closing */ } }

  async close (): Promise<void> {
    try { await this.stream.close({ signal: AbortSignal.timeout(2000) }) } catch { this.stream.abort(new Error('close timed out')) }
  }

  /** Close without waiting for the remote's half-close (the exchange is complete). */
  closeSoon (): void { void this.close() }

  abort (why: string): void {
    try { this.stream.abort(new ProtocolError(why)) } catch { /* already gone */ }
  }
}

const varintLen = (n: number): number => n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4
