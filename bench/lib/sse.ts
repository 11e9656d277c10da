/**
 * A minimal Server-Sent Events reader for a node's `GET /api/v1/events`
 * (one keep-alive node:http request, parsed as it streams). Each event is
 * handed over with the harness clock (hrtime) at the moment its bytes arrived,
 * so latencies measured with it use one clock for both ends.
 */
import { request, type ClientRequest } from 'node:http'

export interface NodeEventMsg { type: string, groupId?: string, id?: string, kind?: string, origin?: string, at: string }

export interface EventStream {
  /** Resolves when the stream is open (headers received). */
  ready: Promise<void>
  close: () => void
}

export function openEvents (port: number, token: string, query: string, onEvent: (e: NodeEventMsg, at: bigint) => void): EventStream {
  let req: ClientRequest | undefined
  let closed = false
  const ready = new Promise<void>((resolve, reject) => {
    req = request({
      host: '127.0.0.1', port, method: 'GET', path: `/api/v1/events${query}`, agent: false,
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }
    }, res => {
      if (res.statusCode !== 200) { reject(new Error(`GET /api/v1/events → ${res.statusCode}`)); res.resume(); return }
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (chunk: string) => {
        const at = process.hrtime.bigint()
        buf += chunk
        for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
          const block = buf.slice(0, cut)
          buf = buf.slice(cut + 2)
          let data = ''
          for (const line of block.split('\n')) if (line.startsWith('data: ')) data += line.slice(6)
          if (data === '') continue
          try { onEvent(JSON.parse(data) as NodeEventMsg, at) } catch { /* not an event of ours */ }
        }
      })
      res.on('error', () => {})
      resolve()
    })
    req.on('error', e => { if (!closed) reject(e) })
    req.end()
  })
  return {
    ready,
    close: () => { closed = true; req?.destroy() }
  }
}
