/**
 * Acceptance gates (pure): who may write what, under which key, when. The same
 * function judges local writes and records received from peers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from '../../src/crypto/hash.js'
import { clockWall } from '../../src/crypto/hlc.js'
import { itemIdFor, type ItemBody } from '../../src/records/item.js'
import { signRecord } from '../../src/records/record.js'
import { sealKeyEnvelope } from '../../src/records/key-envelope.js'
import { signBinding } from '../../src/records/binding.js'
import { gateRecord } from '../../src/groups/record-rules.js'
import { T0, at, item, makeGroup, newKey, nextDescriptor, type TestGroup } from '../helpers/records.js'

const owner = newKey()
const admin = newKey()
const member = newKey()
const member2 = newKey()
const viewer = newKey()
const outsider = newKey()
const SKEW = 300_000

function setup (): TestGroup {
  return makeGroup(owner, [[admin, 'admin'], [member, 'member'], [member2, 'member'], [viewer, 'viewer']])
}
const gate = (g: TestGroup, r: Parameters<typeof gateRecord>[0], now = T0 + 1_000_000) => gateRecord(r, { chain: g.chain, now, maxSkewMs: SKEW })

test('owner, admin and member may write their own items', () => {
  const g = setup()
  for (const k of [owner, admin, member]) assert.equal(gate(g, item(g, k, at(10))), undefined)
})

test('an item by an entity that is not a member is refused (not-a-member)', () => {
  const g = setup()
  assert.equal(gate(g, item(g, outsider, at(10))), 'not-a-member')
})

test('a viewer\'s write is refused (read-only)', () => {
  const g = setup()
  assert.equal(gate(g, item(g, viewer, at(10))), 'read-only')
})

test('a member editing another author\'s item is refused (signer ≠ author and not admin); owner and admin may', () => {
  const g = setup()
  const orig = item(g, member, at(10))
  assert.equal(gate(g, item(g, member2, at(20), { existing: orig })), 'not-admin')
  assert.equal(gate(g, item(g, viewer, at(20), { existing: orig })), 'not-admin')
  assert.equal(gate(g, item(g, outsider, at(20), { existing: orig })), 'not-admin')
  assert.equal(gate(g, item(g, admin, at(20), { existing: orig })), undefined)
  assert.equal(gate(g, item(g, owner, at(20), { existing: orig })), undefined)
  assert.equal(gate(g, item(g, member, at(20), { existing: orig })), undefined)
})

test('an item whose ID is not derived from author + nonce is refused (bad-id)', () => {
  const g = setup()
  const good = item(g, member, at(10))
  const forged = signRecord<ItemBody>(member, { t: 'item', groupId: g.gid, recordId: itemIdFor(member.publicKey, randomBytes(16)), clock: good.rec.c, body: good.rec.b })
  assert.equal(gate(g, forged), 'bad-id')
  // claiming another author's ID space: an ID derived from the owner's key with the member as author
  const squat = signRecord<ItemBody>(member, { t: 'item', groupId: g.gid, recordId: itemIdFor(owner.publicKey, good.rec.b.n), clock: good.rec.c, body: good.rec.b })
  assert.equal(gate(g, squat), 'bad-id')
})

test('a clock too far in the future is refused (future-clock); within the skew it is accepted', () => {
  const g = setup()
  const now = T0 + 1_000_000
  const far = item(g, member, at(1_000_000 + SKEW + 1000))
  assert.ok(clockWall(far.rec.c) > now + SKEW)
  assert.equal(gate(g, far, now), 'future-clock')
  assert.equal(gate(g, item(g, member, at(1_000_000 + SKEW - 1000)), now), undefined)
})

test('a record from before the group existed is refused (before-group)', () => {
  const g = setup()
  assert.equal(gate(g, item(g, member, at(-10))), 'before-group')
})

test('after a rotation, an item written under the retired key is refused (stale-key); a key version the chain never had is refused', () => {
  const g = setup()
  g.keys.set(2, randomBytes(32))
  g.chain.append(nextDescriptor(g.chain.head(), owner, at(100), { kv: 2 }))
  assert.equal(gate(g, item(g, member, at(200), { kv: 1 })), 'stale-key')
  assert.equal(gate(g, item(g, member, at(200), { kv: 2 })), undefined)
  assert.equal(gate(g, item(g, member, at(200), { kv: 3 })), 'bad-key-version')
  // before the rotation, kv 1 was right
  assert.equal(gate(g, item(g, member, at(50), { kv: 1 })), undefined)
})

test('re-encryption after a rotation: an admin may move anyone\'s old item to the new key; a member may not move another\'s', () => {
  const g = setup()
  const old = item(g, member, at(50))
  g.keys.set(2, randomBytes(32))
  g.chain.append(nextDescriptor(g.chain.head(), owner, at(100), { kv: 2 }))
  const byAdmin = signRecord<ItemBody>(admin, { t: 'item', groupId: g.gid, recordId: old.recordId, clock: old.rec.c, body: { ...old.rec.b, kv: 2 } })
  assert.equal(gate(g, byAdmin), undefined)
  const byOther = signRecord<ItemBody>(member2, { t: 'item', groupId: g.gid, recordId: old.recordId, clock: old.rec.c, body: { ...old.rec.b, kv: 2 } })
  assert.equal(gate(g, byOther), 'not-admin')
})

test('a member removed in a later version cannot write at a clock after its removal', () => {
  const g = setup()
  const m = g.chain.current().m.filter(([p]) => !Buffer.from(p).equals(Buffer.from(member.publicKey)))
  g.keys.set(2, randomBytes(32))
  g.chain.append(nextDescriptor(g.chain.head(), owner, at(100), { m, kv: 2 }))
  assert.equal(gate(g, item(g, member, at(200), { kv: 2 })), 'not-a-member')
  // a back-dated item under the new key by the removed member is refused too
  assert.equal(gate(g, item(g, member, at(50), { kv: 2 })), 'not-a-member')
})

test('key envelopes: only owner/admin may issue them, only to members, only for key versions the chain has', () => {
  const g = setup()
  const key = g.keys.get(1)!
  assert.equal(gate(g, sealKeyEnvelope(owner, g.gid, at(10), 1, member.publicKey, key)), undefined)
  assert.equal(gate(g, sealKeyEnvelope(admin, g.gid, at(10), 1, viewer.publicKey, key)), undefined)
  assert.equal(gate(g, sealKeyEnvelope(member, g.gid, at(10), 1, member2.publicKey, key)), 'not-admin')
  assert.equal(gate(g, sealKeyEnvelope(owner, g.gid, at(10), 1, outsider.publicKey, key)), 'not-a-member')
  assert.equal(gate(g, sealKeyEnvelope(owner, g.gid, at(10), 2, member.publicKey, key)), 'bad-key-version')
})

test('bindings: only members may announce which peer serves them', () => {
  const g = setup()
  assert.equal(gate(g, signBinding(viewer, g.gid, at(10), '12D3KooWpeer')), undefined)
  assert.equal(gate(g, signBinding(outsider, g.gid, at(10), '12D3KooWpeer')), 'not-a-member')
})
