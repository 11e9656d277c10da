/**
 * Descriptor records: the signed, versioned state of a group.
 *
 * body = { ver, p: prev descriptor hash | empty, cul, ao, kv, m: [[pub, role]…] sorted,
 *          k: [peerId…] sorted, nm: sealed name, nkv: key version of nm, [circle] }
 *
 * Version 1 is trusted on first sight (group IDs are random, unguessable); version
 * n+1 is valid only if signed by an owner/admin of version n and `p` is n's hash.
 * Each version is its own immutable record (ID derived from group + version), so
 * every version replicates like any other record. The name is sealed with the
 * group key: keepers see members' public keys and roles, never the name.
 */
import { gcmDecrypt, gcmEncrypt } from '../crypto/aead.js'
import { compareBytes, concat, fromUtf8, utf8 } from '../crypto/bytes.js'
import { derivedId, type GroupId, type RecordId, u32, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { IntegrityError } from '../util/errors.js'
import { field, malformed, signRecord, type Body, type VerifiedRecord } from './envelope.js'

export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const
export type Role = typeof ROLES[number]
export const CULTURES = ['chatty', 'taciturn'] as const
export type Culture = typeof CULTURES[number]

export const canAdmin = (r: Role | undefined): boolean => r === 'owner' || r === 'admin'
export const canWrite = (r: Role | undefined): boolean => r === 'owner' || r === 'admin' || r === 'member'

export interface CircleBody extends Body {
  /** threshold K */
  th: number
  /** key check value: HMAC-SHA256(key, "cairn/circle-kcv/v1") */
  kcv: Uint8Array
  /** per member: [pub, share index x, SHA-256 commitment of the share] */
  com: Array<[Uint8Array, number, Uint8Array]>
}

export interface DescBody extends Body {
  ver: number
  p: Uint8Array
  cul: Culture
  ao: boolean
  kv: number
  m: Array<[Uint8Array, Role]>
  k: string[]
  nm: Uint8Array
  nkv: number
  circle?: CircleBody
}

export const descriptorRecordId = (groupId: GroupId, ver: number): RecordId => derivedId('desc', uuidToBytes(groupId), u32(ver))

const MAX_MEMBERS = 1000
const MAX_KEEPERS = 64

export function checkDescBody (b: Body): DescBody {
  field.exact(b, ['ver', 'p', 'cul', 'ao', 'kv', 'm', 'k', 'nm', 'nkv'], ['circle'])
  const ver = field.uint(b, 'ver', 2 ** 31)
  if (ver < 1) throw malformed('descriptor version')
  const p = field.bytes(b, 'p')
  if (ver === 1 ? p.length !== 0 : p.length !== 32) throw malformed('descriptor prev')
  if (!(CULTURES as readonly unknown[]).includes(b.cul)) throw malformed('culture')
  field.bool(b, 'ao'); field.uint(b, 'kv', 2 ** 31); field.bytes(b, 'nm'); field.uint(b, 'nkv', 2 ** 31)
  const m = b.m
  if (!Array.isArray(m) || m.length === 0 || m.length > MAX_MEMBERS) throw malformed('members')
  let prev: Uint8Array | undefined
  for (const e of m) {
    if (!Array.isArray(e) || e.length !== 2 || !(e[0] instanceof Uint8Array) || e[0].length !== 32 || !(ROLES as readonly unknown[]).includes(e[1])) throw malformed('member entry')
    if (prev !== undefined && compareBytes(prev, e[0]) >= 0) throw malformed('members not sorted/unique')
    prev = e[0]
  }
  if (!m.some(e => e[1] === 'owner')) throw malformed('no owner')
  const k = b.k
  if (!Array.isArray(k) || k.length > MAX_KEEPERS || !k.every(x => typeof x === 'string' && x.length > 0 && x.length <= 128)) throw malformed('keepers')
  for (let i = 1; i < k.length; i++) if ((k[i - 1] as string) >= (k[i] as string)) throw malformed('keepers not sorted/unique')
  if (b.circle !== undefined) {
    const c = b.circle as Body
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw malformed('circle')
    field.exact(c, ['th', 'kcv', 'com'])
    const th = field.uint(c, 'th', 255); field.bytes(c, 'kcv', 32)
    const com = c.com
    if (!Array.isArray(com) || com.length !== m.length || th < 1 || th > com.length) throw malformed('circle commitments')
    for (const e of com) {
      if (!Array.isArray(e) || e.length !== 3 || !(e[0] instanceof Uint8Array) || e[0].length !== 32 || typeof e[1] !== 'number' || !Number.isSafeInteger(e[1]) || e[1] < 1 || e[1] > 255 || !(e[2] instanceof Uint8Array) || e[2].length !== 32) throw malformed('circle commitment entry')
    }
  }
  return b as DescBody
}

const nameAad = (groupId: GroupId, kv: number): Uint8Array => concat(utf8('cairn/group-name/v1'), uuidToBytes(groupId), u32(kv))

export function sealName (groupId: GroupId, kv: number, key: Uint8Array, name: string): Uint8Array {
  const { iv, ct } = gcmEncrypt(key, utf8(name), nameAad(groupId, kv))
  return concat(iv, ct)
}

export function openName (groupId: GroupId, kv: number, key: Uint8Array, sealed: Uint8Array): string {
  if (sealed.length < 28) throw new IntegrityError('sealed name is malformed')
  return fromUtf8(gcmDecrypt(key, sealed.subarray(0, 12), sealed.subarray(12), nameAad(groupId, kv)))
}

export const sortMembers = (m: Array<[Uint8Array, Role]>): Array<[Uint8Array, Role]> => [...m].sort((a, b) => compareBytes(a[0], b[0]))

export function signDescriptor (key: SigningKey, groupId: GroupId, clock: Clock, body: DescBody): VerifiedRecord<DescBody> {
  const b: DescBody = { ...body, m: sortMembers(body.m), k: [...new Set(body.k)].sort() }
  if (b.circle === undefined) delete b.circle
  checkDescBody(b)
  return signRecord<DescBody>(key, { t: 'desc', groupId, recordId: descriptorRecordId(groupId, b.ver), clock, body: b })
}

