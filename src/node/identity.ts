/** <dataDir>/identity.json: the node's public identity, readable while the vault is locked. */
import { readFileSync, existsSync } from 'node:fs'
import type { GroupId } from '../crypto/ids.js'
import { writeFileAtomic } from '../util/fs.js'
import { CairnError } from '../util/errors.js'

export interface Identity { keeper: boolean, peerId: string, entityId: string | null, personalGroupId: GroupId | null, createdAt: string }

export function readIdentity (path: string): Identity | undefined {
  if (!existsSync(path)) return undefined
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Identity
    if (typeof v.keeper !== 'boolean' || typeof v.peerId !== 'string') throw new Error('shape')
    return v
  } catch {
    throw new CairnError('CONFIG', `${path} is corrupt; it can be rebuilt: move it away and run \`cairn status\` while unlocked`)
  }
}

export function writeIdentity (path: string, id: Identity): void {
  writeFileAtomic(path, JSON.stringify(id, null, 2) + '\n', 0o600)
}
