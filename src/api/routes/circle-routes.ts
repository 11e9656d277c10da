import type { RouteDef } from '../route.js'
import { Replied, route } from '../route.js'
import { groupParam, strParam } from '../params.js'

export const circleRoutes: RouteDef[] = [
  route('unsealCircle', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const res = await b.circles.unseal(gid, r.body?.ttlSeconds, r.body?.waitSeconds !== undefined ? { waitMs: r.body.waitSeconds * 1000 } : {})
    // Holders who approve by hand have not all answered yet: 202 with the progress to follow.
    if (res.state === 'pending') return new Replied(202, res)
    await b.afterUnseal(gid)
    return res
  }),
  route('unsealProgress', (r, b) => b.circles.unsealer.progress(groupParam(r.params.gid))),
  route('cancelUnseal', (r, b) => b.circles.unsealer.cancel(groupParam(r.params.gid))),
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
