/** Per-kind body checks, so a decoded record can be shape-checked by kind. */
import { checkItemBody } from './item.js'
import { checkDescBody } from './descriptor.js'
import { checkKeyBody } from './key-envelope.js'
import { checkBindBody } from './binding.js'
import { checkVaultBody } from './vault-backup.js'
import { checkShareBody } from './share-envelope.js'
import type { Body, RecordKind, VerifiedRecord } from './record.js'

const checks: Record<RecordKind, (b: Body) => Body> = {
  item: checkItemBody, desc: checkDescBody, key: checkKeyBody, share: checkShareBody, bind: checkBindBody, vault: checkVaultBody
}

/** Throws IntegrityError (reason `malformed`) when the body does not fit its kind. */
export function checkBody (r: VerifiedRecord): void {
  checks[r.rec.t](r.rec.b)
}

/** Key version a record is encrypted under (0 when not encrypted with a group key). */
export function recordKeyVersion (r: VerifiedRecord): number {
  const b = r.rec.b
  return r.rec.t === 'item' || r.rec.t === 'key' || r.rec.t === 'share' ? (b.kv as number) : 0
}
