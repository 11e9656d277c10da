/** JSON Schemas of request bodies (validated by fastify/ajv, no type coercion; unknown fields dropped). */
import type { JsonSchema } from './route.js'

const obj = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema =>
  ({ type: 'object', properties, required, additionalProperties: false })

export const S = {
  unlock: obj({ passphrase: { type: 'string', minLength: 1, maxLength: 4096 } }, ['passphrase']),
  dial: obj({ multiaddr: { type: 'string', minLength: 1, maxLength: 1000 } }, ['multiaddr']),
  createGroup: obj({
    name: { type: 'string', minLength: 1, maxLength: 200 },
    culture: { type: 'string', enum: ['chatty', 'taciturn'] },
    appendOnly: { type: 'boolean' },
    circle: obj({
      threshold: { type: 'integer', minimum: 1, maximum: 255 },
      members: { type: 'array', items: { type: 'string', maxLength: 100 }, minItems: 1, maxItems: 255 },
      approval: { type: 'string', enum: ['auto', 'manual'] }
    }, ['threshold', 'members'])
  }, ['name']),
  addMember: obj({ entityId: { type: 'string', minLength: 1, maxLength: 100 }, role: { type: 'string', enum: ['owner', 'admin', 'member', 'viewer'] }, peerId: { type: 'string', maxLength: 128 }, multiaddr: { type: 'string', maxLength: 1000 } }, ['entityId']),
  addKeeper: obj({ peerId: { type: 'string', minLength: 1, maxLength: 128 }, multiaddr: { type: 'string', maxLength: 1000 } }, ['peerId']),
  createItem: obj({
    content: {},
    type: { type: 'string', minLength: 1, maxLength: 100 },
    meta: { anyOf: [{ type: 'object' }, { type: 'null' }] },
    corrects: { type: 'string', maxLength: 64, description: 'append-only groups: the ID of the entry this one corrects (reads of it then serve this content)' },
    redacts: { type: 'string', maxLength: 64, description: 'append-only groups: the ID of the entry this one redacts (its content is no longer served; its place in the log stays)' }
  }, ['content']),
  updateItem: obj({
    content: {},
    type: { type: 'string', minLength: 1, maxLength: 100 },
    meta: { anyOf: [{ type: 'object' }, { type: 'null' }] }
  }, ['content']),
  shareItem: obj({ toGroup: { type: 'string', maxLength: 64 } }, ['toGroup']),
  unseal: obj({ ttlSeconds: { type: 'integer', minimum: 1, maximum: 86400 } }),
  approval: obj({ policy: { type: 'string', enum: ['auto', 'manual'] } }, ['policy']),
  empty: { type: 'object', additionalProperties: false }
}
