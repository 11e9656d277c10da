/**
 * A small keep-alive HTTP/1.1 JSON client for load generation. node:http with
 * a pooled Agent costs the load generator far less CPU than fetch (undici),
 * which matters on a 2-core box where client and node share the cores.
 */
import { Agent, request } from 'node:http'

export interface JsonResponse { status: number, body: any, text: string }

export class ApiClient {
  private readonly agent: Agent

  constructor (readonly port: number, readonly token: string, o: { maxSockets?: number } = {}) {
    this.agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64 })
  }

  /** One request; resolves with any status (no throw on 4xx/5xx). */
  call (method: string, path: string, body?: unknown): Promise<JsonResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port: this.port, method, path, agent: this.agent,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': payload.length } : {})
        }
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown
          try { parsed = JSON.parse(text) } catch { parsed = undefined }
          resolve({ status: res.statusCode ?? 0, body: parsed, text })
        })
        res.on('error', reject)
      })
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)))
      req.on('error', reject)
      req.end(payload)
    })
  }

  /** As call(), but throws unless the status is 2xx; returns the JSON body. */
  async ok (method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.call(method, path, body)
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} → ${r.status}: ${r.text.slice(0, 300)}`)
    return r.body
  }

  close (): void { this.agent.destroy() }
}
