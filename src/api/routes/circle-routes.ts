import type { RouteDef } from '../route.js'
import { route } from '../route.js'
import { groupParam, strParam } from '../params.js'

export const circleRoutes: RouteDef[] = [
  route('unsealCircle', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const res = await b.circles.unseal(gid, r.body?.ttlSeconds)
    b.afterUnseal(gid)
    return res
  }),
  route('sealCircle', (r, b) => b.circles.seal(groupParam(r.params.gid))),
  route('setApproval', (r, b) => {
    const gid = groupParam(r.params.gid)
    b.groups.view(gid)
    return { groupId: gid, policy: b.circles.setApproval(gid, r.body.policy) }
  }),
  route('listShareRequests', (_r, b) => ({ requests: b.circles.approvals.list() })),
  route('approveShareRequest', (r, b) => b.circles.approve(strParam(r.params.id, 'id', 64) ?? '')),
  route('denyShareRequest', (r, b) => b.circles.deny(strParam(r.params.id, 'id', 64) ?? ''))
]
