/**
 * `cairn init`: node key, and for an entity node also the entity key, vault and
 * personal group (descriptor v1 + key v1 + vault backup record). A keeper gets
 * a node key and `node.keeper = true` in its config: no entity, no vault, no keys.
 */
import { existsSync, readdirSync } from 'node:fs'
import { forgetSigningKey, generateSigningKey } from '../crypto/sign.js'
import { newGroupId } from '../crypto/ids.js'
import { loadConfig } from '../config/load.js'
import { CairnError } from '../util/errors.js'
import { ensureDir, writeFileAtomic } from '../util/fs.js'
import { silentLogger } from '../util/logger.js'
import { checkPassphrase } from '../vault/vault.js'
import { writeIdentity } from './identity.js'
import { createNodeKey } from './node-key.js'
import { dataPaths } from './paths.js'
import { buildServices } from './services.js'

export interface InitResult { entityId: string | null, peerId: string, personalGroupId: string | null, dataDir: string, keeper: boolean }

export async function initNode (o: { dataDir: string, keeper: boolean, passphrase?: string, env?: NodeJS.ProcessEnv }): Promise<InitResult> {
  const p = dataPaths(o.dataDir)
  if (existsSync(p.nodeKey) || existsSync(p.vault) || existsSync(p.db)) {
    throw new CairnError('ALREADY_INITIALIZED', `${o.dataDir} already holds a cairn node; use another --data-dir, or remove it to start over`)
  }
  if (!o.keeper) checkPassphrase(o.passphrase ?? '')
  ensureDir(o.dataDir)
  if (existsSync(o.dataDir) && readdirSync(o.dataDir).some(f => !['config.toml'].includes(f))) {
    throw new CairnError('ALREADY_INITIALIZED', `${o.dataDir} is not empty; init needs an empty directory (or one holding only config.toml)`)
  }
  if (o.keeper && !existsSync(p.config)) writeFileAtomic(p.config, '# cairn keeper node: stores ciphertext it cannot read\n[node]\nkeeper = true\n', 0o600)
  const config = loadConfig(o.dataDir, { env: o.env ?? process.env, ...(o.keeper ? { flags: { node: { keeper: true } } } : {}) })
  if (config.node.keeper !== o.keeper) throw new CairnError('CONFIG', `${p.config} says node.keeper = ${String(config.node.keeper)}, but init was asked for ${o.keeper ? 'a keeper' : 'an entity node'}`)
  const nodeKey = await createNodeKey(p.nodeKey)
  const createdAt = new Date().toISOString()
  if (o.keeper) {
    const s = buildServices(config, nodeKey, silentLogger())
    s.audit.record('initialized', { keeper: true, peerId: nodeKey.peerId })
    await s.close()
    writeIdentity(p.identity, { keeper: true, peerId: nodeKey.peerId, entityId: null, personalGroupId: null, createdAt })
    return { entityId: null, peerId: nodeKey.peerId, personalGroupId: null, dataDir: o.dataDir, keeper: true }
  }
  const entity = generateSigningKey()
  const personalGroupId = newGroupId()
  const s = buildServices(config, nodeKey, silentLogger())
  try {
    // One scrypt: the vault stays open from its creation (unlocking it again would derive the same key twice).
    await s.createVault(o.passphrase!, entity.seed, personalGroupId)
    forgetSigningKey(entity)
    s.groups.create({ name: 'personal', culture: 'chatty' }, true)
    const entityId = s.vault!.entityId()
    s.audit.record('initialized', { keeper: false, peerId: nodeKey.peerId, entityId, personalGroupId })
    writeIdentity(p.identity, { keeper: false, peerId: nodeKey.peerId, entityId, personalGroupId, createdAt })
    return { entityId, peerId: nodeKey.peerId, personalGroupId, dataDir: o.dataDir, keeper: false }
  } finally {
    await s.close()
  }
}
