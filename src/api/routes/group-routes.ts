import type { RouteDef } from '../route.js'
import { route } from '../route.js'
import { groupParam } from '../params.js'

export const groupRoutes: RouteDef[] = [
  route('createGroup', async (r, b) => {
    const v = r.body.circle !== undefined ? await b.createCircle(r.body) : b.groups.create(r.body)
    await b.onGroupChanged(v.id)
    return v
  }),
  route('listGroups', (_r, b) => ({ groups: b.groups.list() })),
  route('getGroup', (r, b) => b.groups.view(groupParam(r.params.gid))),
  route('addMember', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const v = await b.groups.addAnyMember(gid, r.body.entityId, r.body.role ?? 'member')
    const hint = r.body.multiaddr ?? r.body.peerId
    await b.onGroupChanged(gid, hint !== undefined ? { multiaddr: hint, entityId: r.body.entityId } : undefined)
    return v
  }),
  route('removeMember', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const v = await b.groups.removeAnyMember(gid, r.params.entityId ?? '')
    await b.onGroupChanged(gid)
    return v
  }),
  route('addKeeper', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const v = b.groups.addKeeper(gid, r.body.peerId)
    await b.onGroupChanged(gid, r.body.multiaddr !== undefined ? { multiaddr: r.body.multiaddr } : undefined)
    return v
  }),
  route('removeKeeper', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const v = b.groups.removeKeeper(gid, r.params.peerId ?? '')
    await b.onGroupChanged(gid)
    return v
  }),
  route('rotateGroup', async (r, b) => {
    const gid = groupParam(r.params.gid)
    const job = b.groups.rotate(gid)
    await b.onGroupChanged(gid)
    return { jobId: job.id, ...job }
  }),
  route('syncGroup', async (r, b) => await b.sync(groupParam(r.params.gid)))
]
