/**
 * The adoption rule (groups/adoption.ts; SPEC §6: a node never adopts a group
 * its entity did not create or accept): a keeper adopts only a group whose
 * head lists its exact peer ID (and, with keeper.allow_entities, is owned by one
 * of them); a member node only one whose head lists its entity, while unlocked.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { keeperAdoption, memberAdoption } from '../../src/groups/adoption.js'
import { CairnError } from '../../src/util/errors.js'
import { makeGroup, newKey, nextDescriptor, at } from '../helpers/records.js'

const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

test('a keeper adopts a group whose head lists its exact peer ID, never one listing a longer or shorter ID that contains it', () => {
  const owner = newKey()
  const g = makeGroup(owner)
  const adopt = keeperAdoption(PEER, [])
  assert.equal(adopt(g.chain.current()), false, 'not listed')
  assert.equal(adopt(nextDescriptor(g.chain.head(), owner, at(10), { k: [PEER + 'x', PEER.slice(0, -1)] }).rec.b), false)
  assert.equal(adopt(nextDescriptor(g.chain.head(), owner, at(10), { k: [PEER] }).rec.b), true)
})

test('with keeper.allow_entities, a keeper adopts only groups owned by one of them; a malformed entry is a CONFIG error', () => {
  const owner = newKey(); const stranger = newKey()
  const mine = nextDescriptor(makeGroup(owner).chain.head(), owner, at(10), { k: [PEER] }).rec.b
  const theirs = nextDescriptor(makeGroup(stranger).chain.head(), stranger, at(10), { k: [PEER] }).rec.b
  const adopt = keeperAdoption(PEER, [entityIdFromPublicKey(owner.publicKey)])
  assert.equal(adopt(mine), true)
  assert.equal(adopt(theirs), false)
  assert.throws(() => keeperAdoption(PEER, ['cairn1notanentity']), (e: unknown) => e instanceof CairnError && e.code === 'CONFIG')
})

test('a member node adopts a group that lists its entity only with its consent, and none while its vault is locked', () => {
  const me = newKey(); const owner = newKey()
  const theirs = makeGroup(owner, [[me, 'viewer']])
  const withMe = theirs.chain.current()
  const without = makeGroup(owner).chain.current()
  const mine = makeGroup(me)
  const rings = new Set<string>()
  const accepted = new Set<string>()
  const vault = { unlocked: true, entityKey: () => me, ring: (g: string) => rings.has(g) ? {} as never : undefined }
  const adopt = memberAdoption(vault, g => accepted.has(g))
  const G = 'gid-of-theirs'
  assert.equal(adopt(withMe, G, theirs.chain, 'delivery'), false, 'listed by someone else, no consent: refused')
  accepted.add(G)
  assert.equal(adopt(withMe, G, theirs.chain, 'delivery'), true, 'after accepting the invitation')
  accepted.delete(G); rings.add(G)
  assert.equal(adopt(withMe, G, theirs.chain, 'sync'), true, 'the vault holds its keys already (recovery)')
  rings.delete(G)
  assert.equal(adopt(mine.chain.current(), 'mine', mine.chain, 'sync'), true, 'a group its entity created')
  assert.equal(adopt(withMe, G, theirs.chain, 'local'), true, 'written on this node')
  accepted.add(G)
  assert.equal(adopt(without, G, theirs.chain, 'delivery'), false, 'consent without being listed is not enough')
  vault.unlocked = false
  assert.equal(adopt(withMe, G, theirs.chain, 'delivery'), false)
})
