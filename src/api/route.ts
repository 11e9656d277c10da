/**
 * A route = its contract entry (src/contract/routes.ts: method, path, schemas)
 * + a handler. `route()` types the handler from the entry: the body it gets is
 * the static type of the schema fastify validated, and what it returns must
 * fit the declared response schema, so a service whose output drifts from the
 * documented shape fails to compile (and the tests check the real bytes).
 */
import type { Static, TSchema } from '@sinclair/typebox'
import { routes, type OperationId, type RouteSpec, type Routes } from '../contract/routes.js'
import type { ApiBackend } from './backend.js'

export interface Req<B = unknown> {
  params: Record<string, string>
  query: Record<string, string | undefined>
  body: B
  headers: Record<string, string | string[] | undefined>
}

/** A non-JSON answer (Prometheus text). */
export interface RawReply { raw: string, contentType?: string }

export interface RouteDef<Bk = ApiBackend> extends RouteSpec {
  readonly operationId: string
  handler: (req: Req<any>, b: Bk) => unknown
}

/** A handler's answer with a status of its own (202 while an unseal waits for people, …). */
export class Replied<X = unknown> {
  constructor (readonly status: number, readonly body: X) {}
}

/**
 * A streamed answer (JSON Lines exports): lines are produced as the client reads,
 * so a large export never sits whole in memory. Headers go out before the first line.
 */
export class Streamed {
  constructor (readonly lines: Iterable<string> | AsyncIterable<string>, readonly headers: Record<string, string> = {}) {}
}

type BodyOf<S> = S extends { body: infer X extends TSchema } ? Static<X> : undefined
type OutOf<S extends RouteSpec> =
  S extends { contentType: 'text/plain' } ? RawReply
    : S extends { contentType: 'application/x-ndjson' } ? Streamed
      : Static<S['response']> | Replied
type MaybePromise<X> = X | Promise<X>

export function route<K extends OperationId> (operationId: K, handler: (req: Req<BodyOf<Routes[K]>>, b: ApiBackend) => MaybePromise<OutOf<Routes[K]>>): RouteDef {
  return { ...(routes[operationId] as RouteSpec), operationId, handler }
}
