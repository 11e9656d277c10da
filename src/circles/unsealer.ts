/**
 * The requester's side of unsealing a circle: one attempt per circle at a time
 * (a second caller joins it), its progress while people decide, and its outcome
 * for a while after (GET …/unseal answers "unsealed, from …" or "failed: who
 * denied, who did not answer" to a caller who stopped waiting).
 *
 * An attempt waits at most `windowMs` (circles.approval_window_seconds) for
 * holders whose person decides; holders that refuse or cannot be reached are
 * settled at once, so an unseal that cannot reach K fails at once, as before.
 */
import { equalBytes, zeroize } from '../crypto/bytes.js'
import { entityIdFromPublicKey, type GroupId } from '../crypto/ids.js'
import type { DescBody } from '../records/descriptor.js'
import { fromStore } from '../records/record.js'
import { openShareEnvelope, shareEnvelopeId } from '../records/share-envelope.js'
import { CairnError } from '../util/errors.js'
import { requireRole, requireVault } from '../groups/access.js'
import type { GroupContext } from '../groups/context.js'
import type { DescriptorChain } from '../groups/descriptor-chain.js'
import { combineChecked, commitment, shareX } from './shamir.js'
import type { ShareGrant } from './share-protocol.js'
import { UnsealAttempt, type AskOptions, type UnsealProgress } from './unseal.js'
import type { UnsealedKeys } from './unsealed-keys.js'

export interface ShareNet {
  /** Peer IDs known to serve an entity (hello bindings, then bind records of the group), read as far as the caller goes. */
  peersOf: (gid: GroupId, entity: Uint8Array) => Iterable<string>
  request: (peer: string, gid: GroupId, kv: number, holder: Uint8Array, o: AskOptions) => Promise<ShareGrant>
}

export interface UnsealResult {
  groupId: GroupId, keyVersion: number, state: 'unsealed', sharesCollected: number, threshold: number, collected: number, needed: number
  from: string[], expiresAt: string, badShares: Array<{ entityId: string }>
  approved: string[], denied: string[], noAnswer: string[], refused: Array<{ entityId: string, reason: string }>
}

export type PendingUnseal = UnsealProgress & { state: 'pending' }

export interface UnsealerOptions { defaultTtlMs: number, windowMs: number }

/** How long the outcome of a finished attempt stays readable. */
const KEEP_OUTCOME_MS = 10 * 60_000

interface Running { attempt: UnsealAttempt, ttlMs: number, outcome: Promise<UnsealResult> }

export class Unsealer {
  private net: ShareNet | undefined
  private readonly running = new Map<string, Running>()
  private readonly last = new Map<string, { at: number, progress: UnsealProgress, result?: UnsealResult, error?: CairnError }>()

  constructor (private readonly ctx: GroupContext, private readonly keys: UnsealedKeys, private readonly o: UnsealerOptions,
    private readonly hooks: { unsealed: (gid: GroupId) => void, changed: (p: UnsealProgress) => void }) {}

  attachNetwork (net: ShareNet): void { this.net = net }

  private consented: (gid: GroupId, pub: Uint8Array) => boolean = () => true
  /** Holders still invited hold no share yet: they are not asked. */
  setConsent (fn: (gid: GroupId, pub: Uint8Array) => boolean): void { this.consented = fn }

  /**
   * Start (or join) an unseal and wait up to `waitMs` for it: the result, a
   * thrown INSUFFICIENT_SHARES / BAD_SHARE naming who refused, or — people still
   * deciding — the progress so far (state "pending").
   */
  async unseal (gid: GroupId, o: { ttlSeconds?: number, waitMs: number }): Promise<UnsealResult | PendingUnseal> {
    const { chain } = requireRole(this.ctx, gid, 'read')
    const d = chain.current()
    if (d.circle === undefined) throw new CairnError('NOT_A_CIRCLE', 'this group is not a circle; its key is in your vault already')
    const ttlMs = (o.ttlSeconds ?? this.o.defaultTtlMs / 1000) * 1000
    let run = this.running.get(gid)
    if (run !== undefined) run.ttlMs = Math.max(run.ttlMs, ttlMs)
    else run = this.begin(chain, gid, d, ttlMs)
    let timer: NodeJS.Timeout | undefined
    const waited = await Promise.race([
      run.outcome.then(r => ({ r })),
      new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, Math.max(0, o.waitMs)) })
    ]).finally(() => { clearTimeout(timer) })
    if (waited !== undefined) return waited.r
    return run.attempt.progress() as PendingUnseal
  }

  /** Progress of the attempt under way, else the outcome of the last one (for 10 min), else the key's state. */
  progress (gid: GroupId): UnsealProgress | (UnsealProgress & { result?: UnsealResult, error?: { code: string, message: string } }) | { groupId: GroupId, state: 'sealed' | 'unsealed', expiresAt: string | null } {
    requireRole(this.ctx, gid, 'read')
    const run = this.running.get(gid)
    if (run !== undefined) return run.attempt.progress()
    const l = this.last.get(gid)
    if (l !== undefined && Date.now() - l.at < KEEP_OUTCOME_MS) {
      return { ...l.progress, ...(l.result !== undefined ? { result: l.result } : {}), ...(l.error !== undefined ? { error: { code: l.error.code, message: l.error.message } } : {}) }
    }
    const exp = this.keys.expiresAt(gid)
    return { groupId: gid, state: exp !== undefined ? 'unsealed' : 'sealed', expiresAt: exp !== undefined ? new Date(exp).toISOString() : null }
  }

  pending (gid: GroupId): UnsealProgress | undefined { return this.running.get(gid)?.attempt.progress() }

  cancel (gid: GroupId): { cancelled: boolean } {
    requireRole(this.ctx, gid, 'read')
    const run = this.running.get(gid)
    if (run === undefined) return { cancelled: false }
    run.attempt.cancel()
    return { cancelled: true }
  }

  cancelAll (): void { for (const r of this.running.values()) r.attempt.cancel() }

  private begin (chain: DescriptorChain, gid: GroupId, d: DescBody, ttlMs: number): Running {
    const me = requireVault(this.ctx).entityKey()
    // The current key, and any older version still encrypting live items.
    const kvs = [d.kv, ...this.liveOldVersions(gid, d.kv)]
    const versions = kvs.map(kv => {
      const kvDesc = latestWithKv(chain, kv)
      if (kvDesc?.circle === undefined) throw new CairnError('NOT_FOUND', `no circle key version ${kv}`)
      return { kv, threshold: kvDesc.circle.th, kcv: kvDesc.circle.kcv, holders: kvDesc.circle.com.map(([pub]) => ({ entityId: entityIdFromPublicKey(pub), pub, self: equalBytes(pub, me.publicKey) })) }
    })
    const run = { ttlMs } as Running
    const attempt = new UnsealAttempt({
      groupId: gid, versions, windowMs: this.o.windowMs,
      ownShare: kv => this.ownShare(gid, kv),
      ask: async (kv, pub, ao) => await this.askHolder(gid, kv, pub, ao),
      check: (kv, pub, g) => checkShare(chain, gid, kv, pub, g),
      onBadShare: (kv, holder) => { this.ctx.audit.recordSoon('share-bad', { groupId: gid, keyVersion: kv, holder }) },
      combine: async (kv, grants) => {
        const key = await combineChecked(grants.map(g => g.share), gid, kv, versions.find(v => v.kv === kv)!.kcv)
        if (key === undefined) return false
        this.keys.put(gid, kv, key, run.ttlMs)
        zeroize(key)
        return true
      },
      onChange: () => { this.hooks.changed(attempt.progress()) }
    })
    run.attempt = attempt
    run.outcome = attempt.done.then(() => this.conclude(gid, attempt))
    // Keep the rejection observed even when every caller stopped waiting.
    run.outcome.catch(() => {})
    this.running.set(gid, run)
    attempt.start()
    return run
  }

  private conclude (gid: GroupId, attempt: UnsealAttempt): UnsealResult {
    this.running.delete(gid)
    const p = attempt.progress()
    const outs = attempt.outcome()
    const refused = outs.flatMap(o => o.refused)
    const failed = outs.find(o => !o.ok)
    if (failed === undefined) {
      const first = outs[0]!
      const result: UnsealResult = {
        groupId: gid, keyVersion: first.kv, state: 'unsealed', sharesCollected: first.from.length, threshold: first.threshold,
        collected: first.from.length, needed: first.threshold, from: first.from,
        expiresAt: new Date(this.keys.expiresAt(gid) ?? Date.now()).toISOString(),
        badShares: first.badShares.map(entityId => ({ entityId })),
        approved: p.approved, denied: p.denied, noAnswer: p.noAnswer, refused: first.refused
      }
      // One entry per unseal (who answered, who did not): one fsync, not one per share.
      this.ctx.audit.recordSoon('circle-unsealed', { groupId: gid, keyVersions: outs.map(o => o.kv), from: result.from, refused, approved: p.approved, denied: p.denied, noAnswer: p.noAnswer, expiresAt: result.expiresAt })
      this.last.set(gid, { at: Date.now(), progress: p, result })
      this.hooks.unsealed(gid)
      return result
    }
    const { kv, threshold: th, collected, badShares } = failed
    const code = failed.collected >= th || (badShares.length > 0 && collected + badShares.length >= th) ? 'BAD_SHARE' : 'INSUFFICIENT_SHARES'
    const why = [
      p.state === 'cancelled' ? 'the unseal was cancelled' : '',
      p.denied.length > 0 ? `denied by ${p.denied.join(', ')}` : '',
      p.noAnswer.length > 0 ? `no answer from ${p.noAnswer.join(', ')}` : '',
      badShares.length > 0 ? `bad shares from ${badShares.join(', ')}` : '',
      failed.collected >= th ? 'the shares passed their commitments but did not rebuild the key (the circle descriptor may be corrupt)' : ''
    ].filter(s => s !== '').join('; ')
    this.ctx.audit.record('unseal-failed', { groupId: gid, keyVersion: kv, collected, threshold: th, refused: failed.refused, denied: p.denied, noAnswer: p.noAnswer, ...(p.state === 'cancelled' ? { cancelled: true } : {}) })
    const error = new CairnError(code, `collected ${collected} of ${th} shares needed for key version ${kv}${why !== '' ? `; ${why}` : ''}`, {
      collected, threshold: th, needed: th, keyVersion: kv, refused: failed.refused,
      badShares: badShares.map(entityId => ({ entityId })), approved: p.approved, denied: p.denied, noAnswer: p.noAnswer,
      ...(p.state === 'cancelled' ? { cancelled: true } : {})
    })
    // A version rebuilt before another failed stays usable only until its TTL, as before.
    this.last.set(gid, { at: Date.now(), progress: p, error })
    throw error
  }

  private liveOldVersions (gid: GroupId, current: number): number[] {
    const out: number[] = []
    for (let kv = 1; kv < current; kv++) if (this.ctx.store.countItemsWithKv(gid, kv) > 0) out.push(kv)
    return out
  }

  private async askHolder (gid: GroupId, kv: number, holder: Uint8Array, o: AskOptions): Promise<ShareGrant> {
    if (!this.consented(gid, holder)) throw new CairnError('UNAVAILABLE', 'invited, not yet accepted', { reason: 'invited' })
    if (this.net === undefined) throw new CairnError('UNAVAILABLE', 'networking is not running', { reason: 'offline' })
    let last: unknown = new CairnError('UNAVAILABLE', 'no known node', { reason: 'unreachable' })
    for (const p of this.net.peersOf(gid, holder)) {
      try {
        return await this.net.request(p, gid, kv, holder, o)
      } catch (e) {
        last = e
        // A person's answer (deny, no decision) is the holder's, whichever node relayed it.
        const reason = (e as CairnError).details?.reason
        if (reason !== 'unreachable' && reason !== 'timeout') throw e
      }
    }
    throw last
  }

  /** This node's own share of (gid, kv), opened with the entity key. */
  ownShare (gid: GroupId, kv: number): ShareGrant | undefined {
    const vault = requireVault(this.ctx)
    const me = vault.entityKey()
    const row = this.ctx.store.getHead(gid, shareEnvelopeId(gid, kv, me.publicKey))
    if (row === undefined) return undefined
    try {
      const r = fromStore(row, 'share')
      return { x: r.rec.b.x, sv: r.rec.b.sv, share: openShareEnvelope(r, me.seed, me.publicKey) }
    } catch { return undefined }
  }
}

/** A share must match the commitment of its split version for its holder. */
function checkShare (chain: DescriptorChain, gid: GroupId, kv: number, pub: Uint8Array, g: ShareGrant): boolean {
  const d = chain.version(g.sv)?.rec.b
  if (d?.circle === undefined || d.kv !== kv) return false
  const entry = d.circle.com.find(([p]) => equalBytes(p, pub))
  return entry !== undefined && entry[1] === g.x && shareX(g.share) === g.x && equalBytes(entry[2], commitment(gid, kv, g.sv, pub, g.share))
}

function latestWithKv (chain: DescriptorChain, kv: number): DescBody | undefined {
  let out: DescBody | undefined
  for (const v of chain.all()) if (v.rec.b.kv === kv) out = v.rec.b
  return out
}
