/**
 * GET /api/v1/events: a Server-Sent Events stream of what happens on this node
 * (records stored, by origin; jobs; unseals). IDs and kinds only, never content.
 * Agents use it to react to new memory; the benchmark uses it to time replication.
 * The stream itself is served by api/server.ts (it hijacks the reply); this
 * entry registers the route in the table the OpenAPI document is checked against.
 */
import type { RouteDef } from '../route.js'
import { routes } from '../../contract/routes.js'

export const eventRoutes: RouteDef[] = [{ ...routes.events, operationId: 'events', handler: () => null }]
