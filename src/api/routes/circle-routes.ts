import type { ApiBackend } from '../backend.js'
import { groupParam, strParam } from '../params.js'
import type { RouteDef } from '../route.js'
import { S } from '../schemas.js'

export const circleRoutes: Array<RouteDef<ApiBackend>> = [
  {
    method: 'POST', path: '/api/v1/groups/:gid/unseal', tag: 'circles', body: S.unseal,
    summary: 'Collect K shares from online holders, rebuild the circle key in memory until seal or TTL (503 INSUFFICIENT_SHARES / BAD_SHARE)',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const res = await b.circles.unseal(gid, (r.body as { ttlSeconds?: number } | undefined)?.ttlSeconds)
      await b.afterUnseal(gid)
      return res
    }
  },
  { method: 'POST', path: '/api/v1/groups/:gid/seal', tag: 'circles', summary: 'Forget the circle key now (zeroized)', handler: (r, b) => b.circles.seal(groupParam(r.params.gid)) },
  {
    method: 'PUT', path: '/api/v1/groups/:gid/approval', tag: 'circles', body: S.approval, summary: 'How this node answers share requests for a circle: auto or manual',
    handler: (r, b) => {
      const gid = groupParam(r.params.gid)
      b.groups.view(gid)
      return { groupId: gid, policy: b.circles.setApproval(gid, (r.body as { policy: 'auto' | 'manual' }).policy) }
    }
  },
  { method: 'GET', path: '/api/v1/share-requests', tag: 'circles', summary: 'Share requests waiting for (or given) a decision on this node', handler: (_r, b) => ({ requests: b.circles.approvals.list() }) },
  { method: 'POST', path: '/api/v1/share-requests/:id/approve', tag: 'circles', summary: 'Release this node\'s share to a waiting requester', handler: (r, b) => b.circles.approve(strParam(r.params.id, 'id', 64) ?? '') },
  { method: 'POST', path: '/api/v1/share-requests/:id/deny', tag: 'circles', summary: 'Refuse a waiting share request (counts as no share)', handler: (r, b) => b.circles.deny(strParam(r.params.id, 'id', 64) ?? '') }
]
