/**
 * Vault backup records: the passphrase-encrypted vault, replicated in the owner's
 * personal group so keepers back it up without reading it.
 * body = { N, r, p, salt(16), nonce(24), ct, rv(32) }
 * `rv` is a recovery verifier: SHA-256 of a key derived from the vault key. A
 * keeper hands the blob only to a requester who proves the passphrase (see
 * replication/recover-protocol.ts), so knowing an entity ID is not enough to
 * start an offline guessing attack.
 */
import { derivedId, type GroupId, type RecordId, uuidToBytes } from '../crypto/ids.js'
import type { Clock } from '../crypto/hlc.js'
import type { SigningKey } from '../crypto/sign.js'
import { field, signRecord, type Body, type VerifiedRecord } from './envelope.js'

export interface VaultBody extends Body { N: number, r: number, p: number, salt: Uint8Array, nonce: Uint8Array, ct: Uint8Array, rv: Uint8Array }

export const vaultRecordId = (groupId: GroupId, entity: Uint8Array): RecordId => derivedId('vault', uuidToBytes(groupId), entity)

export function checkVaultBody (b: Body): VaultBody {
  field.exact(b, ['N', 'r', 'p', 'salt', 'nonce', 'ct', 'rv'])
  field.uint(b, 'N', 2 ** 24); field.uint(b, 'r', 64); field.uint(b, 'p', 16)
  field.bytes(b, 'salt', 16); field.bytes(b, 'nonce', 24); field.bytes(b, 'ct'); field.bytes(b, 'rv', 32)
  return b as VaultBody
}

export function signVaultBackup (key: SigningKey, groupId: GroupId, clock: Clock, body: VaultBody): VerifiedRecord<VaultBody> {
  return signRecord<VaultBody>(key, { t: 'vault', groupId, recordId: vaultRecordId(groupId, key.publicKey), clock, body })
}
