import type { RouteDef } from '../route.js'
import { route } from '../route.js'
import { groupParam } from '../params.js'

export const groupRoutes: RouteDef[] = [
  route('createGroup', async (r, b) => r.body.circle !== undefined ? await b.createCircle(r.body) : b.groups.create(r.body)),
  route('listGroups', (_r, b) => ({ groups: b.groups.list() })),
  route('getGroup', (r, b) => b.groups.view(groupParam(r.params.gid))),
  route('addMember', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const v = await b.groups.addAnyMember(gid, r.body.entityId, r.body.role ?? 'member')
    const hint = r.body.multiaddr ?? r.body.peerId
    if (hint !== undefined) b.deliveryHint(gid, { entityId: r.body.entityId }, hint)
    return v
  }),
  route('removeMember', async (r, b) => {
    const gid = groupParam(r.params.gid)
    return await b.groups.removeAnyMember(gid, r.params.entityId ?? '')
  }),
  route('addKeeper', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const v = b.groups.addKeeper(gid, r.body.peerId)
    if (r.body.multiaddr !== undefined) b.deliveryHint(gid, { peerId: r.body.peerId }, r.body.multiaddr)
    return v
  }),
  route('removeKeeper', async (r, b) => {
    const gid = groupParam(r.params.gid)
    return b.groups.removeKeeper(gid, r.params.peerId ?? '')
  }),
  route('rotateGroup', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const job = b.groups.rotate(gid)
    return { jobId: job.id, ...job }
  }),
  route('syncGroup', async (r, b) => await b.sync(groupParam(r.params.gid)))
]
