/** The run-time row of a route the client needs (see route-table.ts), derived from a RouteSpec. */
import type { OperationId, RouteSpec } from '../contract/routes.js'

/** [method, path, takes a body] */
export type RouteRow = readonly [RouteSpec['method'], string, boolean]

export function routeTableOf (routes: Readonly<Record<OperationId, RouteSpec>>): Record<OperationId, RouteRow> {
  const rows: Partial<Record<OperationId, RouteRow>> = {}
  for (const [op, s] of Object.entries(routes) as Array<[OperationId, RouteSpec]>) rows[op] = [s.method, s.path, s.body !== undefined]
  return rows as Record<OperationId, RouteRow>
}
