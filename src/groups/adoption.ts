/**
 * Which groups a node adopts (SPEC §6: a node never adopts a group its entity
 * did not create or accept). The Acceptor asks before it stores the first
 * descriptor of a group new to this node, with the head of the group's whole,
 * valid chain:
 *  - a keeper: its own peer ID is one of the head's keepers (exact match), and,
 *    when `keeper.allow_entities` is set, an owner of the group is one of them;
 *  - a member node: its vault is unlocked, its entity is a member of the head,
 *    and its entity consented: it created the group (the chain's first version
 *    is signed by it, or this node wrote it), its vault already holds the
 *    group's keys (a recovered or second device of a member), or it accepted an
 *    invitation to the group (membership.auto_accept included). Listed is not
 *    enough: anyone who knows an entity ID can list it.
 */
import { equalBytes, toHex } from '../crypto/bytes.js'
import { publicKeyFromEntityId, type GroupId } from '../crypto/ids.js'
import type { DescBody } from '../records/descriptor.js'
import { CairnError } from '../util/errors.js'
import type { Vault } from '../vault/vault.js'
import { roleIn, type DescriptorChain } from './descriptor-chain.js'

export type AdoptionPolicy = (head: DescBody, groupId?: GroupId, chain?: DescriptorChain, origin?: string) => boolean

export function keeperAdoption (peerId: string, allowOwners: readonly string[]): AdoptionPolicy {
  // Decoded once; a malformed entity ID here is a configuration error, not a silent "deny".
  const allow = new Set(allowOwners.map(e => {
    try { return toHex(publicKeyFromEntityId(e)) } catch { throw new CairnError('CONFIG', `keeper.allow_entities: ${e.slice(0, 80)} is not an entity ID (cairn1…)`) }
  }))
  return head => head.k.includes(peerId) && (allow.size === 0 || head.m.some(([pub, role]) => role === 'owner' && allow.has(toHex(pub))))
}

export function memberAdoption (vault: Pick<Vault, 'unlocked' | 'entityKey' | 'ring'>, accepted: (groupId: GroupId) => boolean): AdoptionPolicy {
  return (head, groupId, chain, origin) => {
    if (!vault.unlocked) return false
    const me = vault.entityKey().publicKey
    if (roleIn(head, me) === undefined) return false
    if (origin === 'local') return true
    const creator = chain?.version(1)?.rec.s
    if (creator !== undefined && equalBytes(creator, me)) return true
    return groupId !== undefined && (vault.ring(groupId) !== undefined || accepted(groupId))
  }
}
