/**
 * MCP resources: what a client can show or attach without a tool call.
 *   cairn://groups                   the groups this node holds (JSON)
 *   cairn://groups/{groupId}         one group: members, keepers, versions
 *   cairn://groups/{groupId}/memories  its 50 newest memories
 *   cairn://memories/{id}            one memory with its provenance
 * resources/list names the groups and each group's memories; single
 * memories are reached through the template (there may be millions).
 */
import type { CairnClient } from '../client/client.js'
import { CairnError } from '../util/errors.js'

const JSON_TYPE = 'application/json'
const PAGE = 50

export const RESOURCE_TEMPLATES = [
  { uriTemplate: 'cairn://groups/{groupId}', name: 'group', title: 'A cairn group', description: 'Members, keepers, culture and key version of one group', mimeType: JSON_TYPE },
  { uriTemplate: 'cairn://groups/{groupId}/memories', name: 'group-memories', title: 'Memories of a group', description: `The ${PAGE} newest memories of one group`, mimeType: JSON_TYPE },
  { uriTemplate: 'cairn://memories/{id}', name: 'memory', title: 'A memory', description: 'One memory with its content, metadata and signed provenance', mimeType: JSON_TYPE }
]

export interface ResourceEntry { uri: string, name: string, title?: string, description?: string, mimeType: string }

export async function listResources (c: CairnClient): Promise<ResourceEntry[]> {
  const { groups } = await c.listGroups()
  return [
    { uri: 'cairn://groups', name: 'groups', title: 'cairn groups', description: 'The groups this node holds', mimeType: JSON_TYPE },
    ...groups.flatMap(g => {
      const name = g.personal ? 'personal memory' : (g.name ?? g.id)
      return [
        { uri: `cairn://groups/${g.id}`, name: `group ${name}`, description: `${g.personal ? 'personal' : 'shared'} group, ${g.itemCount} memories, your role ${g.role}`, mimeType: JSON_TYPE },
        { uri: `cairn://groups/${g.id}/memories`, name: `memories of ${name}`, description: `the ${PAGE} newest memories`, mimeType: JSON_TYPE }
      ]
    })
  ]
}

export async function readResource (c: CairnClient, uri: string): Promise<{ uri: string, mimeType: string, text: string }> {
  const m = /^cairn:\/\/(?:(groups)(?:\/([^/?#]+)(\/memories)?)?|memories\/([^/?#]+))$/.exec(uri)
  if (m === null) throw new CairnError('NOT_FOUND', `no resource ${uri.slice(0, 200)}: cairn's are cairn://groups, cairn://groups/{groupId}, cairn://groups/{groupId}/memories and cairn://memories/{id}`)
  const id = decodeURIComponent(m[2] ?? m[4] ?? '')
  const value = m[4] !== undefined
    ? await c.getItem(id)
    : m[2] === undefined ? await c.listGroups()
      : m[3] !== undefined ? await c.listItems(id, { limit: PAGE }) : await c.getGroup(id)
  return { uri, mimeType: JSON_TYPE, text: JSON.stringify(value, null, 2) }
}
