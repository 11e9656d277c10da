/** Role checks shared by every group and item operation. */
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import { canAdmin, canWrite, type Role } from '../records/descriptor.js'
import { CairnError } from '../util/errors.js'
import type { Vault } from '../vault/vault.js'
import { roleIn, type DescriptorChain } from './descriptor-chain.js'
import type { GroupContext } from './context.js'

export function requireVault (ctx: GroupContext): Vault {
  if (ctx.vault === undefined) throw new CairnError('KEEPER_HAS_NO_KEYS', 'this node is a keeper: it holds no keys and cannot decrypt or write group content')
  if (!ctx.vault.unlocked) throw new CairnError('VAULT_LOCKED', 'the vault is locked; unlock it with `cairn unlock` or POST /api/v1/unlock')
  return ctx.vault
}

export function requireChain (ctx: GroupContext, gid: GroupId): DescriptorChain {
  const chain = typeof gid === 'string' ? ctx.registry.chain(gid) : undefined
  if (chain === undefined) throw new CairnError('NOT_FOUND', `no group ${String(gid).slice(0, 64)} on this node`)
  return chain
}

export type Need = 'read' | 'write' | 'admin' | 'owner'

/** The caller's role in the current descriptor, or a 403/404 that says what is missing. */
export function requireRole (ctx: GroupContext, gid: GroupId, need: Need): { chain: DescriptorChain, role: Role } {
  const vault = requireVault(ctx)
  const chain = requireChain(ctx, gid)
  const role = roleIn(chain.current(), vault.entityKey().publicKey)
  if (role === undefined) throw new CairnError('NOT_FOUND', `no group ${gid} on this node for ${entityIdFromPublicKey(vault.entityKey().publicKey)}`)
  const ok = need === 'read' || (need === 'write' && canWrite(role)) || (need === 'admin' && canAdmin(role)) || (need === 'owner' && role === 'owner')
  if (!ok) throw new CairnError('FORBIDDEN', `your role in this group is ${role}; this needs ${need === 'write' ? 'owner, admin or member' : need === 'admin' ? 'owner or admin' : 'owner'}`)
  return { chain, role }
}
