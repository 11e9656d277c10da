/**
 * Routes an operator of a long-lived node uses: where a group's records are
 * (replication), background jobs, and stopping the daemon.
 */
import type { ApiBackend } from '../backend.js'
import { groupParam, intParam } from '../params.js'
import type { JsonSchema, RouteDef } from '../route.js'

const nullable = (type: string): JsonSchema => ({ type: [type, 'null'] })

const replicationPeer: JsonSchema = {
  type: 'object',
  required: ['peerId', 'kind', 'connected', 'delivered', 'behind', 'lastSyncAt', 'lastError'],
  properties: {
    peerId: { ...nullable('string'), description: 'null: a member none of whose nodes is known yet' },
    kind: { type: 'string', enum: ['keeper', 'member'] },
    entityId: { type: 'string', description: 'members: the entity the node serves' },
    connected: { type: 'boolean' },
    delivered: { type: 'boolean', description: 'the group descriptor (and a member\'s keys) reached it' },
    behind: { type: 'integer', minimum: 0, description: 'records held here that the peer lacked at the last reconciliation, plus those it missed since (0 = in sync)' },
    lastSyncAt: { ...nullable('string'), format: 'date-time' },
    lastError: nullable('string')
  }
}

const job: JsonSchema = {
  type: 'object',
  required: ['id', 'kind', 'groupId', 'state', 'done', 'total', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' }, kind: { type: 'string' }, groupId: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
    done: { type: 'integer' }, total: { type: 'integer' }, error: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' }
  }
}

export const operatorRoutes: Array<RouteDef<ApiBackend>> = [
  {
    method: 'GET', path: '/api/v1/groups/:gid/replication', tag: 'network',
    summary: 'Per keeper and member node: connected, descriptor delivered, records behind, last sync, last error',
    response: { type: 'object', required: ['peers'], properties: { peers: { type: 'array', items: replicationPeer } } },
    handler: (r, b) => ({ peers: b.replication(groupParam(r.params.gid)) })
  },
  {
    method: 'GET', path: '/api/v1/jobs', tag: 'groups', summary: 'Background jobs (re-encryption after a rotation), newest first',
    query: { limit: { type: 'integer', description: '1–200, default 20' } },
    response: { type: 'object', required: ['jobs'], properties: { jobs: { type: 'array', items: job } } },
    handler: (r, b) => ({ jobs: b.jobs(intParam(r.query.limit, 'limit', { min: 1, max: 200, def: 20 })!) })
  },
  {
    method: 'POST', path: '/api/v1/shutdown', tag: 'node', status: 202, summary: 'Stop the daemon, as on SIGTERM (after answering)',
    response: { type: 'object', required: ['stopping'], properties: { stopping: { type: 'boolean', const: true } } },
    handler: (_r, b) => { b.shutdown(); return { stopping: true } }
  }
]
