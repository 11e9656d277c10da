/** The shape of one API route: used to register it, validate it and document it. */
export type JsonSchema = Record<string, unknown>

export interface Req {
  params: Record<string, string>
  query: Record<string, string | undefined>
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

export interface Reply { status?: number, body?: unknown, contentType?: string, raw?: string }

/** A streamed response: chunks are written as the client reads them (backpressure), never buffered whole. */
export interface StreamReply { stream: Iterable<string> | AsyncIterable<string>, contentType: string }

export interface RouteDef<B = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  summary: string
  tag: string
  /** Default: true. Only health is open. */
  auth?: boolean
  body?: JsonSchema
  query?: Record<string, { type: 'string' | 'integer', description: string }>
  /** Success status (default 200). */
  status?: number
  response?: JsonSchema
  /** Content type of a success that is not JSON (for the OpenAPI document); `response` then describes one unit (an ndjson line). */
  contentType?: string
  /** A Server-Sent Events stream served by the server itself. */
  sse?: boolean
  handler: (req: Req, b: B) => unknown
}
