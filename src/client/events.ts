/**
 * GET /api/v1/events as an async iterator of NodeEvents, parsed with
 * eventsource-parser. The stream opens when the EventStream is made (await
 * `ready()` to know the node is sending: events from then on are buffered
 * until iterated); it is iterated once; `close()` (or breaking out of
 * `for await`) ends it. No automatic reconnection: a caller that wants to
 * resume opens a new stream with `lastEventId` (sent as Last-Event-ID).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { NodeEventView } from '../contract/models.js'
import { CairnError } from '../util/errors.js'

/** An event larger than this is not one of ours: the stream is ended rather than buffered without bound. */
const MAX_EVENT_CHARS = 1 << 20

export class EventStream implements AsyncIterable<NodeEventView> {
  private readonly ac = new AbortController()
  private last: string | undefined
  private readonly response: Promise<Response>

  constructor (open: (signal: AbortSignal, lastEventId?: string) => Promise<Response>, lastEventId?: string) {
    this.last = lastEventId
    this.response = open(this.ac.signal, lastEventId)
    this.response.catch(() => {}) // reported by ready() and the iterator, not as an unhandled rejection
  }

  /** Settles once the node answered and is sending events (rejects with its error). */
  async ready (): Promise<void> { await this.response }

  /** The `id:` of the last event received, if the server sends IDs. */
  get lastEventId (): string | undefined { return this.last }

  close (): void { this.ac.abort() }

  async * [Symbol.asyncIterator] (): AsyncIterator<NodeEventView> {
    const res = await this.response
    if (res.body === null) throw new CairnError('UNAVAILABLE', 'the event stream has no body')
    const queue: NodeEventView[] = []
    let failure: Error | undefined
    const parser = createParser({
      maxBufferSize: MAX_EVENT_CHARS,
      onEvent: (m: EventSourceMessage) => {
        if (m.id !== undefined) this.last = m.id
        try {
          const data = JSON.parse(m.data) as NodeEventView
          queue.push({ ...data, type: data.type ?? m.event ?? 'message' })
        } catch { failure ??= new CairnError('INVALID_INPUT', `the daemon sent an event whose data is not JSON: ${m.data.slice(0, 100)}`) }
      },
      onError: e => { failure ??= new CairnError('INVALID_INPUT', `malformed event stream: ${e.message}`) }
    })
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>
        try { chunk = await reader.read() } catch (e) {
          if (this.ac.signal.aborted) return
          throw new CairnError('UNAVAILABLE', `the event stream broke: ${(e as Error).message}`)
        }
        if (chunk.done) return
        parser.feed(chunk.value)
        while (queue.length > 0) yield queue.shift()!
        if (failure !== undefined) throw failure
      }
    } finally {
      this.ac.abort()
      try { reader.releaseLock() } catch { /* a read was pending: the abort ends it */ }
    }
  }
}
