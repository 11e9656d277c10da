import type { ApiBackend } from '../backend.js'
import { groupParam, strParam } from '../params.js'
import { Replied, type RouteDef } from '../route.js'
import { S } from '../schemas.js'

const ids = { type: 'array', items: { type: 'string' } }
const progressProps = {
  groupId: { type: 'string' }, keyVersion: { type: 'integer' }, state: { type: 'string', enum: ['pending', 'unsealed', 'failed', 'cancelled', 'sealed'] },
  collected: { type: 'integer' }, needed: { type: 'integer' }, startedAt: { type: 'string' }, deadline: { type: 'string' },
  holders: { type: 'array', items: { type: 'object', properties: { entityId: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' }, waitingUntil: { type: 'string' } } } },
  approved: ids, denied: ids, waiting: ids, noAnswer: ids
}
const unsealResult = {
  type: 'object',
  properties: {
    groupId: { type: 'string' }, keyVersion: { type: 'integer' }, state: { type: 'string', enum: ['unsealed'] }, sharesCollected: { type: 'integer' }, threshold: { type: 'integer' },
    collected: { type: 'integer' }, needed: { type: 'integer' }, from: ids, expiresAt: { type: 'string' },
    badShares: { type: 'array', items: { type: 'object', properties: { entityId: { type: 'string' } } } },
    approved: ids, denied: ids, noAnswer: ids, refused: { type: 'array', items: { type: 'object', properties: { entityId: { type: 'string' }, reason: { type: 'string' } } } }
  }
}

export const circleRoutes: Array<RouteDef<ApiBackend>> = [
  {
    method: 'POST', path: '/api/v1/groups/:gid/unseal', tag: 'circles', body: S.unseal, response: unsealResult,
    summary: 'Collect K shares from holders and rebuild the circle key in memory until seal or TTL. Waits up to waitSeconds (default 60) ' +
      'for people who approve by hand, then answers 202 with the progress (state "pending"); 503 INSUFFICIENT_SHARES / BAD_SHARE naming who denied and who did not answer',
    handler: async (r, b) => {
      const gid = groupParam(r.params.gid)
      const body = r.body as { ttlSeconds?: number, waitSeconds?: number } | undefined
      const res = await b.circles.unseal(gid, body?.ttlSeconds, body?.waitSeconds !== undefined ? { waitMs: body.waitSeconds * 1000 } : {})
      if (res.state === 'pending') return new Replied(202, res)
      await b.afterUnseal(gid)
      return res
    }
  },
  {
    method: 'GET', path: '/api/v1/groups/:gid/unseal', tag: 'circles', response: { type: 'object', properties: { ...progressProps, expiresAt: { type: ['string', 'null'] }, result: unsealResult, error: { type: 'object' } } },
    summary: 'Unseal progress: collected/needed, each holder\'s answer (waiting for a person, approved, denied, no answer); after it ends, its outcome for 10 minutes',
    handler: (r, b) => b.circles.unsealer.progress(groupParam(r.params.gid))
  },
  {
    method: 'DELETE', path: '/api/v1/groups/:gid/unseal', tag: 'circles', response: { type: 'object', properties: { cancelled: { type: 'boolean' } } },
    summary: 'Cancel an unseal under way: requests still waiting at holders end at once',
    handler: (r, b) => b.circles.unsealer.cancel(groupParam(r.params.gid))
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
