/**
 * Descriptor chain acceptance (pure): v1 trusted on first sight if signed by an
 * owner it names; v(n+1) only if it links to v(n) by hash, comes later, and is
 * signed by an owner/admin of v(n). Gaps, forks, demoted signers are refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from '../../src/crypto/hash.js'
import { sealName, signDescriptor } from '../../src/records/descriptor.js'
import { DescriptorChain, roleIn } from '../../src/groups/descriptor-chain.js'
import { at, makeGroup, newKey, nextDescriptor } from '../helpers/records.js'

const owner = newKey()
const admin = newKey()
const member = newKey()
const viewer = newKey()
const outsider = newKey()

function group () {
  return makeGroup(owner, [[admin, 'admin'], [member, 'member'], [viewer, 'viewer']])
}

test('version 1 is accepted from its owner; a v1 signed by someone who is not its owner is refused', () => {
  const g = group()
  assert.equal(new DescriptorChain().rejectNext(g.descs[0]!), undefined)
  const key = randomBytes(32)
  const fake = signDescriptor(outsider, g.gid, at(0), { ver: 1, p: new Uint8Array(0), cul: 'chatty', ao: false, kv: 1, m: [[owner.publicKey, 'owner']], k: [], nm: sealName(g.gid, 1, key, 'x'), nkv: 1 })
  assert.equal(new DescriptorChain().rejectNext(fake), 'not-admin')
  const byAdmin = signDescriptor(admin, g.gid, at(0), { ver: 1, p: new Uint8Array(0), cul: 'chatty', ao: false, kv: 1, m: [[owner.publicKey, 'owner'], [admin.publicKey, 'admin']], k: [], nm: sealName(g.gid, 1, key, 'x'), nkv: 1 })
  assert.equal(new DescriptorChain().rejectNext(byAdmin), 'not-admin')
})

test('a chain may not start at version 2', () => {
  const g = group()
  const v2 = nextDescriptor(g.descs[0]!, owner, at(10), { k: ['12D3KooWtest'] })
  assert.equal(new DescriptorChain().rejectNext(v2), 'descriptor-gap')
})

test('owner and admin may sign the next version', () => {
  const g = group()
  const v2 = nextDescriptor(g.chain.head(), admin, at(10), { k: ['peer-a'] })
  assert.equal(g.chain.rejectNext(v2), undefined)
  g.chain.append(v2)
  const v3 = nextDescriptor(g.chain.head(), owner, at(20), { k: [] })
  assert.equal(g.chain.rejectNext(v3), undefined)
  g.chain.append(v3)
  assert.equal(g.chain.length, 3)
  assert.equal(g.chain.current().ver, 3)
})

test('a version signed by a member, a viewer or an outsider is refused (not-admin)', () => {
  const g = group()
  for (const k of [member, viewer, outsider]) {
    const v2 = nextDescriptor(g.chain.head(), k, at(10), { m: [...g.chain.current().m, [outsider.publicKey, 'owner']] })
    assert.equal(g.chain.rejectNext(v2), 'not-admin')
    assert.throws(() => g.chain.append(v2))
  }
  assert.equal(g.chain.length, 1)
})

test('a signer is judged by the previous version: an admin removed in v2 cannot sign v3', () => {
  const g = group()
  const v2 = nextDescriptor(g.chain.head(), owner, at(10), { m: g.chain.current().m.filter(([p]) => !Buffer.from(p).equals(Buffer.from(admin.publicKey))) })
  g.chain.append(v2)
  const v3 = nextDescriptor(g.chain.head(), admin, at(20), { k: ['peer-x'] })
  assert.equal(g.chain.rejectNext(v3), 'not-admin')
})

test('a gap (v3 after v1) is refused', () => {
  const g = group()
  const v2 = nextDescriptor(g.chain.head(), owner, at(10), { k: ['a'] })
  const v3 = nextDescriptor(v2, owner, at(20), { k: ['b'] })
  assert.equal(g.chain.rejectNext(v3), 'descriptor-gap')
})

test('a fork is refused: a second, different v2, or a v2 that links to another hash', () => {
  const g = group()
  const v2 = nextDescriptor(g.chain.head(), owner, at(10), { k: ['a'] })
  g.chain.append(v2)
  const v2b = nextDescriptor(g.descs[0]!, owner, at(11), { k: ['b'] })
  assert.equal(g.chain.rejectNext(v2b), 'descriptor-fork')
  const v1b = signDescriptor(owner, g.gid, at(0), { ...g.descs[0]!.rec.b, k: ['zzz'] })
  assert.equal(g.chain.rejectNext(v1b), 'descriptor-fork')
  const badLink = signDescriptor(owner, g.gid, at(20), { ...v2.rec.b, ver: 3, p: randomBytes(32) })
  assert.equal(g.chain.rejectNext(badLink), 'descriptor-fork')
  // the same v2 again is a harmless duplicate
  assert.equal(g.chain.rejectNext(v2), 'duplicate')
})

test('a next version must come later in time, and may raise the key version by at most one', () => {
  const g = group()
  assert.equal(g.chain.rejectNext(nextDescriptor(g.chain.head(), owner, at(0), { k: ['a'] })), 'stale-clock')
  assert.equal(g.chain.rejectNext(nextDescriptor(g.chain.head(), owner, at(10), { kv: 3 })), 'bad-key-version')
  assert.equal(g.chain.rejectNext(nextDescriptor(g.chain.head(), owner, at(10), { kv: 0 })), 'bad-key-version')
  assert.equal(g.chain.rejectNext(nextDescriptor(g.chain.head(), owner, at(10), { kv: 2 })), undefined)
})

test('only an owner may grant or take away owner/admin roles; an admin may manage members', () => {
  const g = group()
  const m = g.chain.current().m
  const promote = nextDescriptor(g.chain.head(), admin, at(10), { m: [...m.filter(([p]) => !Buffer.from(p).equals(Buffer.from(member.publicKey))), [member.publicKey, 'admin']] })
  assert.equal(g.chain.rejectNext(promote), 'not-owner')
  const addViewer = nextDescriptor(g.chain.head(), admin, at(10), { m: [...m, [outsider.publicKey, 'viewer']] })
  assert.equal(g.chain.rejectNext(addViewer), undefined)
  const byOwner = nextDescriptor(g.chain.head(), owner, at(10), { m: [...m.filter(([p]) => !Buffer.from(p).equals(Buffer.from(member.publicKey))), [member.publicKey, 'admin']] })
  assert.equal(g.chain.rejectNext(byOwner), undefined)
})

test('the append-only flag cannot be switched', () => {
  const g = group()
  assert.equal(g.chain.rejectNext(nextDescriptor(g.chain.head(), owner, at(10), { ao: true })), 'append-only-changed')
})

test('at(clock) gives the version in force; roleIn reads roles', () => {
  const g = group()
  const v2 = nextDescriptor(g.chain.head(), owner, at(100), { kv: 2 })
  g.chain.append(v2)
  assert.equal(g.chain.at(at(-1)), undefined)
  assert.equal(g.chain.at(at(50))?.ver, 1)
  assert.equal(g.chain.at(at(100))?.ver, 2)
  assert.equal(g.chain.at(at(10_000))?.ver, 2)
  assert.equal(g.chain.introducing(2)?.ver, 2)
  assert.equal(g.chain.retiredAt(1), at(100))
  assert.equal(roleIn(g.chain.current(), viewer.publicKey), 'viewer')
  assert.equal(roleIn(g.chain.current(), outsider.publicKey), undefined)
})
