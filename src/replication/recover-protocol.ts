/**
 * /cairn/recover/1.0.0 — fetch an entity's encrypted vault from a keeper on a new device.
 *
 *   → { op: "params", e: entity(32) }            ← { N, r, p, salt }
 *   → { op: "fetch", e, proof(32) }              ← { vault: record bytes, counts: {groupId: n} } | { err }
 *
 * proof = HKDF(scrypt(passphrase, salt), salt, "cairn/recover-auth/v1"); the keeper
 * compares SHA-256(proof) with the `rv` the vault record carries. So a keeper
 * hands the (still encrypted) vault only to someone who knows the passphrase:
 * knowing an entity ID is not enough to start an offline guessing attack.
 * For an entity it does not back up, the keeper answers "params" with decoy
 * parameters derived from its node key, so probing does not reveal whom it serves.
 * Failed proofs are limited to 5 per 10 minutes per peer and per entity.
 */
import type { GroupId } from '../crypto/ids.js'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { equalBytes, toHex } from '../crypto/bytes.js'
import { hmacSha256, sha256 } from '../crypto/hash.js'
import { VAULT_SCRYPT } from '../crypto/kdf.js'
import { fromStore } from '../records/record.js'
import type { VaultBody } from '../records/vault-backup.js'
import type { Store } from '../store/store.js'
import { CairnError } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { Channel } from './channel.js'
import type { CairnLibp2p } from './libp2p-node.js'

export const RECOVER_PROTOCOL = '/cairn/recover/1.0.0'
const MAX = 4 * 1024 * 1024
const WINDOW_MS = 10 * 60_000
const MAX_FAILURES = 5

export interface RecoverDeps { libp2p: CairnLibp2p, store: Store<GroupId>, decoySecret: Uint8Array, timeoutMs: number, log: Logger, audit: (kind: string, data: Record<string, unknown>) => void }

export class RecoverService {
  private readonly failures = new Map<string, number[]>()

  constructor (private readonly d: RecoverDeps) {}

  async start (): Promise<void> { await this.d.libp2p.handle(RECOVER_PROTOCOL, (s, c) => { void this.serve(s, c) }, { maxInboundStreams: 4 }) }
  async stop (): Promise<void> { await this.d.libp2p.unhandle(RECOVER_PROTOCOL) }

  private limited (key: string, now: number): boolean {
    const list = (this.failures.get(key) ?? []).filter(t => now - t < WINDOW_MS)
    this.failures.set(key, list)
    return list.length >= MAX_FAILURES
  }

  private fail (key: string, now: number): void { this.failures.set(key, [...(this.failures.get(key) ?? []), now]) }

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const ch = new Channel(stream, MAX, this.d.timeoutMs)
    try {
      for (let k = 0; k < 2; k++) {
        const m = await ch.recv<{ op?: unknown, e?: unknown, proof?: unknown }>()
        if (!(m.e instanceof Uint8Array) || m.e.length !== 32) { await ch.send({ err: 'bad-request' }); break }
        const row = this.d.store.vaultBackupOf(m.e)
        const body = row !== undefined ? fromStore(row, 'vault').rec.b : undefined
        if (m.op === 'params') {
          const decoy = hmacSha256(this.d.decoySecret, m.e).subarray(0, 16)
          await ch.send(body !== undefined ? { N: body.N, r: body.r, p: body.p, salt: body.salt } : { N: VAULT_SCRYPT.N, r: VAULT_SCRYPT.r, p: VAULT_SCRYPT.p, salt: decoy })
          continue
        }
        if (m.op === 'fetch' && m.proof instanceof Uint8Array && m.proof.length === 32) {
          const now = Date.now()
          const ek = toHex(m.e)
          if (this.limited(peer, now) || this.limited(ek, now)) { await ch.send({ err: 'rate-limited' }); break }
          if (row === undefined || body === undefined || !equalBytes(sha256(m.proof), body.rv)) {
            this.fail(peer, now); this.fail(ek, now)
            this.d.audit('recovery-denied', { peer })
            await ch.send({ err: 'denied' })
            break
          }
          const counts: Record<string, number> = {}
          counts[row.gid] = this.d.store.countGroupRecords(row.gid)
          this.d.audit('recovery-served', { peer, groupId: row.gid })
          await ch.send({ vault: row.bytes, counts })
          break
        }
        await ch.send({ err: 'bad-request' })
        break
      }
      await ch.close()
    } catch (e) {
      ch.abort('recover failed')
      this.d.log.debug({ peer, err: (e as Error).message }, 'recover request failed')
    }
  }
}

/** Client side: returns the signed vault record bytes after proving the passphrase. */
export async function fetchVault (libp2p: CairnLibp2p, peer: PeerId, entity: Uint8Array, prove: (p: Pick<VaultBody, 'N' | 'r' | 'p' | 'salt'>) => Promise<Uint8Array>, timeoutMs: number): Promise<{ vault: Uint8Array, counts: Record<string, number> }> {
  const stream = await libp2p.dialProtocol(peer, RECOVER_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
  const ch = new Channel(stream, MAX, timeoutMs)
  try {
    await ch.send({ op: 'params', e: entity })
    const p = await ch.recv<{ N?: unknown, r?: unknown, p?: unknown, salt?: unknown, err?: unknown }>()
    if (typeof p.N !== 'number' || typeof p.r !== 'number' || typeof p.p !== 'number' || !(p.salt instanceof Uint8Array) || p.N > 2 ** 22 || p.r > 32 || p.p > 16) {
      throw new CairnError('UNAVAILABLE', 'the keeper did not answer the recovery request')
    }
    const proof = await prove({ N: p.N, r: p.r, p: p.p, salt: p.salt })
    await ch.send({ op: 'fetch', e: entity, proof })
    const r = await ch.recv<{ vault?: unknown, counts?: unknown, err?: unknown }>(Math.max(timeoutMs, 30_000))
    await ch.close()
    if (r.err === 'rate-limited') throw new CairnError('UNAVAILABLE', 'too many failed attempts: the keeper refuses recovery for this entity for 10 minutes')
    if (!(r.vault instanceof Uint8Array)) throw new CairnError('BAD_PASSPHRASE', 'the keeper refused: wrong passphrase, or it holds no backup for this entity')
    return { vault: r.vault, counts: (r.counts ?? {}) as Record<string, number> }
  } catch (e) {
    ch.abort('recover failed')
    throw e
  }
}
