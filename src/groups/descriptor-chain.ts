/**
 * A group's descriptor history, versions 1..n, each linked to the previous by
 * hash and signed by an owner/admin of the previous version. Pure: no I/O.
 *
 * Questions the acceptance gates ask of it:
 *   at(clock)        the version in force at a record's clock (latest with clock ≤ c)
 *   introducing(kv)  the version that first used key version kv
 *   roleIn(d, pub)   a member's role in one version
 */
import { equalBytes, toHex } from '../crypto/bytes.js'
import { entityIdFromPublicKey, type EntityId } from '../crypto/ids.js'
import type { DescBody, Role } from '../records/descriptor.js'
import { canAdmin } from '../records/descriptor.js'
import type { DecodedRecord } from '../records/record.js'
import type { RejectReason } from './reject-reason.js'

/** One descriptor version (verified when it was accepted; read back from the store since). */
export type Descriptor = DecodedRecord<DescBody>

/** Why a record may not be stored (undefined: it may), or 'duplicate': it is already held. */
export type ChainVerdict = RejectReason | 'duplicate' | undefined

export function roleIn (d: DescBody, pub: Uint8Array): Role | undefined {
  for (const [p, role] of d.m) if (equalBytes(p, pub)) return role
  return undefined
}

export class DescriptorChain {
  private readonly versions: Descriptor[] = []

  constructor (descs: Descriptor[] = []) {
    for (const d of [...descs].sort((a, b) => a.rec.b.ver - b.rec.b.ver)) this.versions.push(d)
  }

  get length (): number { return this.versions.length }
  head (): Descriptor {
    const h = this.versions[this.versions.length - 1]
    if (h === undefined) throw new Error('empty descriptor chain')
    return h
  }

  current (): DescBody { return this.head().rec.b }
  version (ver: number): Descriptor | undefined { return this.versions[ver - 1] }
  all (): readonly Descriptor[] { return this.versions }

  /** Why `next` cannot extend this chain, or undefined if it can. */
  rejectNext (next: Descriptor): ChainVerdict {
    const b = next.rec.b
    if (this.versions.length === 0) {
      if (b.ver !== 1) return 'descriptor-gap'
      return roleIn(b, next.rec.s) === 'owner' ? undefined : 'not-admin'
    }
    const head = this.head()
    if (b.ver <= head.rec.b.ver) {
      const same = this.versions[b.ver - 1]
      return same !== undefined && equalBytes(same.hash, next.hash) ? 'duplicate' : 'descriptor-fork'
    }
    if (b.ver !== head.rec.b.ver + 1) return 'descriptor-gap'
    if (!equalBytes(b.p, head.hash)) return 'descriptor-fork'
    if (next.rec.c <= head.rec.c) return 'stale-clock'
    const signerRole = roleIn(head.rec.b, next.rec.s)
    if (!canAdmin(signerRole)) return 'not-admin'
    if (b.kv < head.rec.b.kv || b.kv > head.rec.b.kv + 1) return 'bad-key-version'
    // Only an owner may grant or take away owner/admin rights.
    if (signerRole !== 'owner' && privilegedChanged(head.rec.b, b)) return 'not-owner'
    if (b.circle === undefined && head.rec.b.circle !== undefined) return 'circle-changed'
    if (b.ao !== head.rec.b.ao) return 'append-only-changed'
    return undefined
  }

  append (next: Descriptor): void {
    const why = this.rejectNext(next)
    if (why !== undefined) throw new Error(`cannot append descriptor: ${why}`)
    this.versions.push(next)
  }

  /** The version in force at `clock`: the latest whose own clock is ≤ clock. */
  at (clock: number): DescBody | undefined {
    let lo = 0
    let hi = this.versions.length - 1
    let found: Descriptor | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const v = this.versions[mid]!
      if (v.rec.c <= clock) { found = v; lo = mid + 1 } else hi = mid - 1
    }
    return found?.rec.b
  }

  /** The first version whose key version is kv. */
  introducing (kv: number): DescBody | undefined {
    for (const v of this.versions) if (v.rec.b.kv === kv) return v.rec.b
    return undefined
  }

  /** Clock at which key version kv was replaced (undefined while it is current). */
  retiredAt (kv: number): number | undefined {
    for (const v of this.versions) if (v.rec.b.kv > kv) return v.rec.c
    return undefined
  }

  members (): Array<{ entityId: EntityId, role: Role, pub: Uint8Array }> {
    return this.current().m.map(([pub, role]) => ({ entityId: entityIdFromPublicKey(pub), role, pub }))
  }
}

function privilegedChanged (a: DescBody, b: DescBody): boolean {
  const priv = (d: DescBody): string[] => d.m.filter(([, r]) => r === 'owner' || r === 'admin').map(([p, r]) => `${toHex(p)}:${r}`).sort()
  const x = priv(a); const y = priv(b)
  return x.length !== y.length || x.some((v, i) => v !== y[i])
}
