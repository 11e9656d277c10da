import type { RouteDef } from '../route.js'
import { Streamed, route } from '../route.js'
import { groupParam, intParam, itemParam, strParam } from '../params.js'
import type { ItemInput } from '../../items/item-service.js'

export const itemRoutes: RouteDef[] = [
  route('createItem', async (r, b) => { const gid = groupParam(r.params.gid); return await b.commit(() => b.items.create(gid, r.body as ItemInput)) }),
  route('listItems', (r, b) => b.items.list(groupParam(r.params.gid), {
    limit: intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 50 }),
    ...(r.query.cursor !== undefined ? { cursor: strParam(r.query.cursor, 'cursor', 200)! } : {}),
    ...(r.query.type !== undefined ? { type: strParam(r.query.type, 'type', 100)! } : {})
  })),
  route('listRaw', (r, b) => b.items.raw(groupParam(r.params.gid), {
    limit: intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 100 }),
    ...(r.query.cursor !== undefined ? { cursor: strParam(r.query.cursor, 'cursor', 200)! } : {})
  })),
  route('getItem', (r, b) => b.items.get(itemParam(r.params.id))),
  route('updateItem', async (r, b) => { const id = itemParam(r.params.id); return await b.commit(() => b.items.update(id, r.body as ItemInput)) }),
  route('deleteItem', async (r, b) => { const id = itemParam(r.params.id); return await b.commit(() => b.items.remove(id)) }),
  route('exportItems', (r, b) => {
    const gid = r.query.group !== undefined ? groupParam(r.query.group) : undefined
    const plan = b.portability.plan(gid)
    return new Streamed(b.portability.lines(plan.groups, plan.skipped), { 'x-cairn-skipped': plan.skipped.join(',') })
  }),
  route('importItems', async (r, b) => { const gid = groupParam(r.params.gid); return await b.commit(() => b.portability.importLines(gid, r.body.items)) }),
  route('shareItem', async (r, b) => { const id = itemParam(r.params.id); const to = groupParam(r.body.toGroup); return await b.commit(() => b.items.share(id, to)) })
]
