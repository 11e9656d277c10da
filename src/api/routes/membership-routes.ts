/**
 * The membership life cycle (SPEC §7.1, added 2026-12; docs/MEMBERSHIP.md):
 * invitations this node's entity received and its answers, leaving a group,
 * deleting one. Adding a member (an invitation) is addMember (group-routes.ts).
 */
import type { ApiBackend } from '../backend.js'
import { groupParam, strParam } from '../params.js'
import { route, type RouteDef } from '../route.js'
import { CairnError } from '../../util/errors.js'

function inboxOf (b: ApiBackend): NonNullable<ApiBackend['inbox']> {
  if (b.inbox === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'a keeper has no entity: nobody can invite it (add it as a keeper instead)')
  return b.inbox
}

const idParam = (v: string | undefined): string => strParam(v, 'id', 64) ?? ''

export const membershipRoutes: RouteDef[] = [
  route('listInvites', (_r, b) => {
    const inbox = inboxOf(b)
    if (!b.status().unlocked) throw new CairnError('VAULT_LOCKED', 'the vault is locked; unlock it to read your invitations')
    return { invites: inbox.list() }
  }),
  route('acceptInvite', (r, b) => inboxOf(b).accept(idParam(r.params.id))),
  route('declineInvite', (r, b) => inboxOf(b).decline(idParam(r.params.id))),
  route('leaveGroup', (r, b) => b.membership.leave(groupParam(r.params.gid))),
  route('deleteGroup', (r, b) => b.membership.deleteGroup(groupParam(r.params.gid)))
]
