import type { ApiBackend } from '../backend.js'
import { groupParam } from '../params.js'
import type { RouteDef } from '../route.js'
import { S } from '../schemas.js'
import type { Culture } from '../../records/descriptor.js'

const GROUP_VERDICT = {
  type: 'object', required: ['ok', 'records', 'heads', 'problems'],
  properties: {
    ok: { type: 'boolean' }, records: { type: 'integer', description: 'records checked, every kind' },
    heads: { type: 'array', items: { type: 'string' }, description: 'append-only groups: hex entry commitments no entry names, sorted' },
    problems: { type: 'array', items: { type: 'object', required: ['recordId', 'kind', 'problem'], properties: { recordId: { type: 'string' }, kind: { type: 'string' }, problem: { type: 'string' }, ref: { type: 'string' } } } },
    appendOnly: { type: 'boolean' }, unlinked: { type: 'integer' }, content: { type: 'string', enum: ['checked', 'no-key', 'not-append-only'] }
  }
}

export const groupRoutes: Array<RouteDef<ApiBackend>> = [
  {
    method: 'POST', path: '/api/v1/groups', tag: 'groups', body: S.createGroup, status: 201, summary: 'Create a group (or a circle, with `circle`)',
    handler: async (r, b) => {
      const body = r.body as { name: string, culture?: Culture, appendOnly?: boolean, circle?: { threshold: number, members: string[], approval?: 'auto' | 'manual' } }
      const v = body.circle !== undefined ? await b.createCircle(body) : b.groups.create(body)
      await b.onGroupChanged(v.id)
      return v
    }
  },
  { method: 'GET', path: '/api/v1/groups', tag: 'groups', summary: 'Groups this node holds', handler: (_r, b) => ({ groups: b.groups.list() }) },
  { method: 'GET', path: '/api/v1/groups/:gid', tag: 'groups', summary: 'One group: members, keepers, versions', handler: (r, b) => b.groups.view(groupParam(r.params.gid)) },
  {
    method: 'GET', path: '/api/v1/groups/:gid/verify', tag: 'groups', response: GROUP_VERDICT,
    summary: 'Re-check every stored record of the group: signatures, author rights against the descriptor chain, and for append-only groups the DAG (no missing parent, no edited entry); works on keepers (no key needed), members also check entry contents',
    handler: async (r, b) => await b.groupVerify(groupParam(r.params.gid))
  },
  {
    method: 'POST', path: '/api/v1/groups/:gid/members', tag: 'groups', body: S.addMember, status: 201,
    summary: 'Add a member (or change its role); it receives every key version. peerId/multiaddr: where its node is, if not connected',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const body = r.body as { entityId: string, role?: string, peerId?: string, multiaddr?: string }
      const v = await b.groups.addAnyMember(gid, body.entityId, body.role ?? 'member')
      const hint = body.multiaddr ?? body.peerId
      await b.onGroupChanged(gid, hint !== undefined ? { multiaddr: hint, entityId: body.entityId } : undefined)
      return v
    }
  },
  {
    method: 'DELETE', path: '/api/v1/groups/:gid/members/:entityId', tag: 'groups', summary: 'Remove a member: new key version, re-encryption job',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const v = await b.groups.removeAnyMember(gid, r.params.entityId ?? '')
      await b.onGroupChanged(gid)
      return v
    }
  },
  {
    method: 'POST', path: '/api/v1/groups/:gid/keepers', tag: 'groups', body: S.addKeeper, status: 201, summary: 'Add a keeper by peer ID (and optionally its address)',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const body = r.body as { peerId: string, multiaddr?: string }
      const v = b.groups.addKeeper(gid, body.peerId)
      await b.onGroupChanged(gid, body.multiaddr !== undefined ? { multiaddr: body.multiaddr } : undefined)
      return v
    }
  },
  {
    method: 'DELETE', path: '/api/v1/groups/:gid/keepers/:peerId', tag: 'groups', summary: 'Remove a keeper',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const v = b.groups.removeKeeper(gid, r.params.peerId ?? '')
      await b.onGroupChanged(gid)
      return v
    }
  },
  {
    method: 'POST', path: '/api/v1/groups/:gid/rotate', tag: 'groups', status: 202, summary: 'Rotate the group key; existing items are re-encrypted by a job',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const job = b.groups.rotate(gid)
      await b.onGroupChanged(gid)
      return { jobId: job.id, ...job }
    }
  },
  {
    method: 'POST', path: '/api/v1/groups/:gid/sync', tag: 'network', summary: 'Run anti-entropy for this group now',
    handler: async (r, b) => b.sync(groupParam(r.params.gid))
  }
]
