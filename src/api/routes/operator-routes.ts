/**
 * Routes an operator of a long-lived node uses: where a group's records are
 * (replication), background jobs, and stopping the daemon. Shapes: their
 * entries in src/contract/routes.ts.
 */
import { groupParam, intParam } from '../params.js'
import { route, type RouteDef } from '../route.js'

export const operatorRoutes: RouteDef[] = [
  route('getReplication', (r, b) => ({ peers: b.replication(groupParam(r.params.gid)) })),
  route('listJobs', (r, b) => ({ jobs: b.jobs(intParam(r.query.limit, 'limit', { min: 1, max: 200, def: 20 })!) })),
  route('shutdown', (_r, b) => { b.shutdown(); return { stopping: true as const } })
]
