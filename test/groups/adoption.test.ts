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

test('a member node adopts a group that lists its entity, and none while its vault is locked', () => {
  const me = newKey(); const owner = newKey()
  const withMe = makeGroup(owner, [[me, 'viewer']]).chain.current()
  const without = makeGroup(owner).chain.current()
  const vault = { unlocked: true, entityKey: () => me }
  assert.equal(memberAdoption(vault)(withMe), true)
  assert.equal(memberAdoption(vault)(without), false)
  vault.unlocked = false
  assert.equal(memberAdoption(vault)(withMe), false)
})
