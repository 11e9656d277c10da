import type { ApiBackend } from '../backend.js'
import { groupParam, intParam, itemParam, strParam } from '../params.js'
import type { RouteDef } from '../route.js'
import { S } from '../schemas.js'
import type { ItemInput } from '../../items/item-service.js'

const page = { limit: { type: 'integer' as const, description: '1–1000' }, cursor: { type: 'string' as const, description: 'nextCursor of the previous page' } }

export const itemRoutes: Array<RouteDef<ApiBackend>> = [
  {
    method: 'POST', path: '/api/v1/groups/:gid/items', tag: 'items', body: S.createItem, status: 201, summary: 'Write an item (201 after the transaction commits)',
    handler: async (r, b) => { const gid = groupParam(r.params.gid); return await b.commit(() => b.items.create(gid, r.body as ItemInput)) }
  },
  {
    method: 'GET', path: '/api/v1/groups/:gid/items', tag: 'items', summary: 'Decrypted items, newest first',
    query: { ...page, type: { type: 'string', description: 'only items of this type' } },
    handler: async (r, b) => await b.read(() => b.items.list(groupParam(r.params.gid), {
      limit: intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 50 }),
      ...(r.query.cursor !== undefined ? { cursor: strParam(r.query.cursor, 'cursor', 200)! } : {}),
      ...(r.query.type !== undefined ? { type: strParam(r.query.type, 'type', 100)! } : {})
    }))
  },
  {
    method: 'GET', path: '/api/v1/groups/:gid/raw', tag: 'items', summary: 'Stored ciphertext envelopes (works on keepers)', query: page,
    handler: (r, b) => b.items.raw(groupParam(r.params.gid), {
      limit: intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 100 }),
      ...(r.query.cursor !== undefined ? { cursor: strParam(r.query.cursor, 'cursor', 200)! } : {})
    })
  },
  { method: 'GET', path: '/api/v1/items/:id', tag: 'items', summary: 'One item with its provenance chain', handler: async (r, b) => { const id = itemParam(r.params.id); return await b.read(() => b.items.get(id)) } },
  { method: 'PUT', path: '/api/v1/items/:id', tag: 'items', body: S.updateItem, summary: 'Replace an item\'s content (new signed version)', handler: async (r, b) => { const id = itemParam(r.params.id); return await b.commit(() => b.items.update(id, r.body as ItemInput)) } },
  { method: 'DELETE', path: '/api/v1/items/:id', tag: 'items', summary: 'Delete an item (signed tombstone; keepers purge the ciphertext)', handler: async (r, b) => { const id = itemParam(r.params.id); return await b.commit(() => b.items.remove(id)) } },
  {
    method: 'POST', path: '/api/v1/items/:id/share', tag: 'items', body: S.shareItem, status: 201, summary: 'Copy an item into another group, linked to its source',
    handler: async (r, b) => { const id = itemParam(r.params.id); const to = groupParam((r.body as { toGroup: string }).toGroup); return await b.commit(() => b.items.share(id, to)) }
  }
]
