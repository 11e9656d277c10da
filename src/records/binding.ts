/**
 * Bindings: "entity E is served by node P", signed by E's key.
 * As a group record (body = { peer }) it tells every member and keeper of the
 * group which peer IDs act for a member, so they can be found (kad-dht peer
 * routing) and authorised to sync. The same statement travels standalone in the
 * hello exchange on every connection (replication/hello.ts).
 */
import { derivedId, type GroupId, type RecordId, uuidToBytes, utf8 } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { field, signRecord, type Body, type VerifiedRecord } from './envelope.js'

export interface BindBody extends Body { peer: string }

export const bindingId = (groupId: GroupId, entity: Uint8Array, peer: string): RecordId => derivedId('bind', uuidToBytes(groupId), entity, utf8(peer))

export function checkBindBody (b: Body): BindBody {
  field.exact(b, ['peer'])
  field.str(b, 'peer', 128)
  return b as BindBody
}

export function signBinding (key: SigningKey, groupId: GroupId, clock: Clock, peer: string): VerifiedRecord<BindBody> {
  return signRecord<BindBody>(key, { t: 'bind', groupId, recordId: bindingId(groupId, key.publicKey, peer), clock, body: { peer } })
}
