/**
 * The membership life cycle (SPEC §7.1, added 2026-12; docs/MEMBERSHIP.md):
 * invitations this node's entity received and its answers, leaving a group,
 * deleting one. Adding a member (an invitation) is POST …/members (group-routes.ts).
 */
import type { ApiBackend } from '../backend.js'
import { groupParam, strParam } from '../params.js'
import type { RouteDef } from '../route.js'
import { CairnError } from '../../util/errors.js'

const invite = {
  type: 'object',
  properties: {
    id: { type: 'string' }, groupId: { type: 'string' }, name: { type: ['string', 'null'] }, from: { type: 'string' }, role: { type: 'string' }, circle: { type: 'boolean' },
    createdAt: { type: 'string' }, expiresAt: { type: 'string' }, membershipExpiresAt: { type: ['string', 'null'] }, state: { type: 'string' }
  }
}

function inboxOf (b: ApiBackend): NonNullable<ApiBackend['inbox']> {
  if (b.inbox === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'a keeper has no entity: nobody can invite it (add it as a keeper instead)')
  return b.inbox
}

const idParam = (v: string | undefined): string => strParam(v, 'id', 64) ?? ''

export const membershipRoutes: Array<RouteDef<ApiBackend>> = [
  {
    method: 'GET', path: '/api/v1/invites', tag: 'membership', response: { type: 'object', properties: { invites: { type: 'array', items: invite } } },
    summary: 'Invitations this node\'s entity has not answered (the group\'s name opened for you); nothing of the group is stored before you accept',
    handler: (_r, b) => {
      const inbox = inboxOf(b)
      if (!b.status().unlocked) throw new CairnError('VAULT_LOCKED', 'the vault is locked; unlock it to read your invitations')
      return { invites: inbox.list() }
    }
  },
  {
    method: 'POST', path: '/api/v1/invites/:id/accept', tag: 'membership', response: { type: 'object', properties: { groupId: { type: 'string' }, state: { type: 'string', enum: ['active'] } } },
    summary: 'Accept an invitation: a signed answer goes to the group; its admins add you and your node receives the group',
    handler: (r, b) => inboxOf(b).accept(idParam(r.params.id))
  },
  {
    method: 'POST', path: '/api/v1/invites/:id/decline', tag: 'membership', response: { type: 'object', properties: { groupId: { type: 'string' }, state: { type: 'string', enum: ['declined'] } } },
    summary: 'Decline an invitation: a signed answer tells the inviter; the invitation is deleted here',
    handler: (r, b) => inboxOf(b).decline(idParam(r.params.id))
  },
  {
    method: 'POST', path: '/api/v1/groups/:gid/leave', tag: 'membership', response: { type: 'object', properties: { left: { type: 'boolean' } } },
    summary: 'Leave a group: a signed leave goes to its peers, this node purges its records and shreds its keys; its admins remove you with a new key version',
    handler: (r, b) => b.membership.leave(groupParam(r.params.gid))
  },
  {
    method: 'DELETE', path: '/api/v1/groups/:gid', tag: 'membership', response: { type: 'object', properties: { deleted: { type: 'boolean' } } },
    summary: 'Delete a group (owner): every member node and keeper purges its records and shreds its keys; the ID answers 410 GROUP_DELETED afterwards',
    handler: (r, b) => b.membership.deleteGroup(groupParam(r.params.gid))
  }
]
