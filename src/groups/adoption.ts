/**
 * Which groups a node adopts (SPEC §6: a node never adopts a group its entity
 * did not create or accept). The Acceptor asks before it stores the first
 * descriptor of a group new to this node, with the head of the group's whole,
 * valid chain:
 *  - a keeper: its own peer ID is one of the head's keepers (exact match), and,
 *    when `keeper.allow_entities` is set, an owner of the group is one of them;
 *  - a member node: its vault is unlocked and its entity is a member of the head.
 */
import { toHex } from '../crypto/bytes.js'
import { publicKeyFromEntityId } from '../crypto/ids.js'
import type { DescBody } from '../records/descriptor.js'
import { CairnError } from '../util/errors.js'
import type { Vault } from '../vault/vault.js'
import { roleIn } from './descriptor-chain.js'

export type AdoptionPolicy = (head: DescBody) => boolean

export function keeperAdoption (peerId: string, allowOwners: readonly string[]): AdoptionPolicy {
  // Decoded once; a malformed entity ID here is a configuration error, not a silent "deny".
  const allow = new Set(allowOwners.map(e => {
    try { return toHex(publicKeyFromEntityId(e)) } catch { throw new CairnError('CONFIG', `keeper.allow_entities: ${e.slice(0, 80)} is not an entity ID (cairn1…)`) }
  }))
  return head => head.k.includes(peerId) && (allow.size === 0 || head.m.some(([pub, role]) => role === 'owner' && allow.has(toHex(pub))))
}

export function memberAdoption (vault: Pick<Vault, 'unlocked' | 'entityKey'>): AdoptionPolicy {
  return head => vault.unlocked && roleIn(head, vault.entityKey().publicKey) !== undefined
}
