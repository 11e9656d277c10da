/**
 * GET /api/v1/events: a Server-Sent Events stream of what happens on this node
 * (records stored, by origin; jobs; unseals). IDs and kinds only, never content.
 * Agents use it to react to new memory; the benchmark uses it to time replication.
 */
import type { ApiBackend } from '../backend.js'
import type { RouteDef } from '../route.js'

export const eventRoutes: Array<RouteDef<ApiBackend>> = [{
  method: 'GET', path: '/api/v1/events', tag: 'node', sse: true, summary: 'Server-Sent Events: records stored, jobs, unseals (IDs only)',
  query: { group: { type: 'string', description: 'only events of this group' } },
  handler: () => null
}]
