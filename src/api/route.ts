/** The shape of one API route: used to register it, validate it and document it. */
export type JsonSchema = Record<string, unknown>

export interface Req {
  params: Record<string, string>
  query: Record<string, string | undefined>
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

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
  /** A Server-Sent Events stream served by the server itself. */
  sse?: boolean
  handler: (req: Req, b: B) => unknown
}

/** A handler's answer with a status of its own (202 while an unseal waits for people, …). */
export class Replied {
  constructor (readonly status: number, readonly body: unknown) {}
}

/**
 * A streamed answer (JSON Lines exports): lines are produced as the client reads,
 * so a large export never sits whole in memory. Headers go out before the first line.
 */
export class Streamed {
  constructor (readonly contentType: string, readonly lines: Iterable<string> | AsyncIterable<string>, readonly headers: Record<string, string> = {}) {}
}
