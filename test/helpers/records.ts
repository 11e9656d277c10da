/**
 * Builders for signed records in pure tests: a group's descriptor chain with
 * chosen members and roles, items by any entity, key envelopes. Everything goes
 * through the real src/records functions; nothing here bypasses a signature.
 */
import { randomBytes } from '../../src/crypto/hash.js'
import { makeClock, type Clock } from '../../src/crypto/hlc.js'
import { newGroupId, type GroupId } from '../../src/crypto/ids.js'
import { generateSigningKey, type SigningKey } from '../../src/crypto/sign.js'
import { sealName, signDescriptor, type DescBody, type Role } from '../../src/records/descriptor.js'
import { sealItem, type ItemBody, type ItemPlain } from '../../src/records/item.js'
import type { VerifiedRecord } from '../../src/records/record.js'
import { DescriptorChain, type Descriptor } from '../../src/groups/descriptor-chain.js'

export const T0 = 1_700_000_000_000
/** A clock `ms` milliseconds after T0. */
export const at = (ms: number, counter = 0): Clock => makeClock(T0 + ms, counter)

export interface TestGroup {
  gid: GroupId
  keys: Map<number, Uint8Array>
  chain: DescriptorChain
  descs: Descriptor[]
}

/** Version 1 of a group owned by `owner`, with extra members, at clock `at(0)`. */
export function makeGroup (owner: SigningKey, members: Array<[SigningKey, Role]> = [], o: { name?: string, clock?: Clock } = {}): TestGroup {
  const gid = newGroupId()
  const key = randomBytes(32)
  const d = signDescriptor(owner, gid, o.clock ?? at(0), {
    ver: 1, p: new Uint8Array(0), cul: 'chatty', ao: false, kv: 1,
    m: [[owner.publicKey, 'owner'], ...members.map(([k, r]) => [k.publicKey, r] as [Uint8Array, Role])],
    k: [], nm: sealName(gid, 1, key, o.name ?? 'test group'), nkv: 1
  })
  return { gid, keys: new Map([[1, key]]), chain: new DescriptorChain([d]), descs: [d] }
}

/** The next descriptor version after `head`, signed by `signer`, with `changes`. Not appended. */
export function nextDescriptor (head: Descriptor, signer: SigningKey, clock: Clock, changes: Partial<DescBody> = {}): Descriptor {
  return signDescriptor(signer, head.groupId, clock, { ...head.rec.b, ...changes, ver: head.rec.b.ver + 1, p: head.hash })
}

export function plainOf (content: unknown, type = 'note', meta: ItemPlain['meta'] = null, createdAt: Clock = at(1)): ItemPlain {
  return { type, content: content as ItemPlain['content'], meta, createdAt }
}

export function item (g: TestGroup, signer: SigningKey, clock: Clock, o: { kv?: number, plain?: ItemPlain | null, existing?: VerifiedRecord<ItemBody> } = {}): VerifiedRecord<ItemBody> {
  const kv = o.kv ?? 1
  return sealItem({
    signer, groupId: g.gid, clock, keyVersion: kv, key: g.keys.get(kv) ?? randomBytes(32),
    plain: o.plain === undefined ? plainOf('hello') : o.plain,
    ...(o.existing !== undefined ? { existing: { author: o.existing.rec.b.a, nonce: o.existing.rec.b.n, prevHash: o.existing.hash } } : {})
  })
}

export const newKey = generateSigningKey
