/**
 * One unseal attempt on the requester's node: it asks every holder of every key
 * version still in use at once, and waits, within one window, for people.
 *
 *   holder states   own → (this node's share)      asking → granted (auto)
 *                   asking → waiting (a person decides, until …) → approved | denied | no-answer
 *                   asking → refused (reason) | unreachable | bad-share;  any open one → cancelled
 *   key version     done when K good shares of one split are in (combined and checked by
 *                   the caller), or when K can no longer be reached (good + open < K)
 *   attempt         done when every key version is; the first (the current) one is what
 *                   progress reports as collected/needed, like Vault's unseal progress
 *
 * Invariants: shares live only until combined, then are zeroized (also when the
 * attempt fails or is cancelled, and for answers arriving after it ended); when a
 * version is done its open requests are aborted, so the holders' queued requests
 * end at once instead of waiting for a person nobody needs any more.
 */
import { zeroize } from '../crypto/bytes.js'
import type { GroupId } from '../crypto/ids.js'
import { CairnError } from '../util/errors.js'
import type { ShareGrant } from './share-protocol.js'

export type HolderState = 'own' | 'asking' | 'waiting' | 'granted' | 'approved' | 'denied' | 'no-answer' | 'refused' | 'unreachable' | 'bad-share' | 'cancelled'

export interface HolderProgress { entityId: string, state: HolderState, reason?: string, waitingUntil?: string }

export interface UnsealProgress {
  groupId: GroupId, keyVersion: number, state: 'pending' | 'unsealed' | 'failed' | 'cancelled'
  collected: number, needed: number, startedAt: string, deadline: string
  holders: HolderProgress[]
  /** Holders that released a share (at once or after a person approved); not this node. */
  approved: string[]
  denied: string[]
  /** Holders still asked or waiting for a person. */
  waiting: string[]
  /** At the end: holders that never answered (no decision in time, or unreachable). */
  noAnswer: string[]
}

export interface VersionPlan { kv: number, threshold: number, holders: Array<{ entityId: string, pub: Uint8Array, self: boolean }> }

export interface AskOptions { waitMs: number, signal: AbortSignal, onWait: (until: number) => void }

export interface AttemptDeps {
  groupId: GroupId
  /** Current key version first. */
  versions: VersionPlan[]
  windowMs: number
  ownShare: (kv: number) => ShareGrant | undefined
  ask: (kv: number, pub: Uint8Array, o: AskOptions) => Promise<ShareGrant>
  /** Does a share match its holder's commitment? */
  check: (kv: number, pub: Uint8Array, g: ShareGrant) => boolean
  /** A share failed its commitment (audited at once: the holder's node may be tampered with). */
  onBadShare: (kv: number, entityId: string) => void
  /** Combine K shares of one split; false if the key failed its check value. */
  combine: (kv: number, grants: ShareGrant[]) => Promise<boolean>
  onChange: () => void
}

interface Holder { entityId: string, pub: Uint8Array, state: HolderState, reason?: string, until?: number, grant?: ShareGrant }

const OPEN: ReadonlySet<HolderState> = new Set(['asking', 'waiting'])
const GOOD: ReadonlySet<HolderState> = new Set(['own', 'granted', 'approved'])

/** The key of one version: who was asked, what came back, and when it is settled. */
class VersionCollection {
  readonly holders: Holder[]
  readonly abort = new AbortController()
  done = false
  ok = false
  chosen: Holder[] = []
  private settle!: () => void
  readonly settled = new Promise<void>(resolve => { this.settle = resolve })

  constructor (readonly plan: VersionPlan, private readonly d: AttemptDeps, private readonly deadline: number) {
    this.holders = plan.holders.map(h => ({ entityId: h.entityId, pub: h.pub, state: 'asking' as HolderState }))
  }

  start (): void {
    const self = (h: Holder): boolean => this.plan.holders.find(p => p.entityId === h.entityId)!.self
    // The requests go out first: opening our own share (an unwrap) overlaps their round trips.
    for (const h of this.holders) {
      if (self(h)) continue
      const waitMs = Math.max(0, this.deadline - Date.now())
      void this.d.ask(this.plan.kv, h.pub, {
        waitMs, signal: this.abort.signal,
        onWait: until => { if (!this.done && h.state === 'asking') { h.state = 'waiting'; h.until = until; this.d.onChange() } }
      }).then(
        grant => { this.answer(h, { state: h.state === 'waiting' ? 'approved' : 'granted', grant }) },
        (e: unknown) => { this.answer(h, failure(h, e)) }
      )
    }
    // After the requests' own first steps (signing, opening streams), which run as microtasks.
    setImmediate(() => {
      for (const h of this.holders) {
        if (!self(h) || this.done) continue
        const own = this.d.ownShare(this.plan.kv)
        this.answer(h, own !== undefined ? { state: 'own', grant: own } : { state: 'refused', reason: 'no-share' })
      }
    })
    this.evaluate()
  }

  private answer (h: Holder, a: { state: HolderState, reason?: string, grant?: ShareGrant }): void {
    if (this.done || !OPEN.has(h.state)) { if (a.grant !== undefined) zeroize(a.grant.share); return }
    if (a.grant !== undefined && !this.d.check(this.plan.kv, h.pub, a.grant)) {
      zeroize(a.grant.share)
      h.state = 'bad-share'
      h.reason = 'bad-share'
      this.d.onBadShare(this.plan.kv, h.entityId)
    } else {
      h.state = a.state
      if (a.reason !== undefined) h.reason = a.reason
      if (a.grant !== undefined) h.grant = a.grant
    }
    this.evaluate()
    this.d.onChange()
  }

  /**
   * Enough shares of one split, or no way left to get them. Holders whose node has
   * not answered yet are waited for (they answer within the network timeout), so the
   * outcome counts every share that was there; only people are not waited for in vain.
   */
  private evaluate (): void {
    if (this.done) return
    const bySplit = new Map<number, Holder[]>()
    for (const h of this.holders) if (h.grant !== undefined) bySplit.set(h.grant.sv, [...(bySplit.get(h.grant.sv) ?? []), h])
    const best = [...bySplit.entries()].sort((a, b) => b[1].length - a[1].length || b[0] - a[0])[0]
    const open = this.holders.filter(h => OPEN.has(h.state)).length
    const asking = this.holders.some(h => h.state === 'asking')
    const th = this.plan.threshold
    if (best !== undefined && best[1].length >= th) { void this.finish(best[1].slice(0, th)); return }
    if ((best?.[1].length ?? 0) + open < th && !asking) void this.finish(undefined)
  }

  private async finish (chosen: Holder[] | undefined): Promise<void> {
    this.done = true
    this.abort.abort()
    for (const h of this.holders) if (OPEN.has(h.state)) { h.state = 'no-answer'; h.reason ??= 'no-answer' }
    if (chosen !== undefined) {
      this.chosen = chosen
      try {
        this.ok = await this.d.combine(this.plan.kv, chosen.map(h => h.grant!))
      } catch { this.ok = false }
    }
    this.wipe()
    this.settle()
  }

  /** The deadline passed or the attempt was cancelled. */
  end (state: 'no-answer' | 'cancelled'): void {
    if (this.done) return
    this.done = true
    this.abort.abort()
    for (const h of this.holders) if (OPEN.has(h.state)) { h.state = state; h.reason = state }
    this.wipe()
    this.settle()
  }

  /** Good shares of the best split when the version was settled (the shares themselves are gone by then). */
  private final: number | undefined

  private wipe (): void {
    this.final = this.collected()
    for (const h of this.holders) if (h.grant !== undefined) { zeroize(h.grant.share); delete h.grant }
  }

  collected (): number {
    if (this.final !== undefined) return this.final
    if (this.chosen.length > 0) return this.chosen.length
    const bySplit = new Map<number, number>()
    for (const h of this.holders) if (h.grant !== undefined) bySplit.set(h.grant.sv, (bySplit.get(h.grant.sv) ?? 0) + 1)
    return Math.max(0, ...bySplit.values())
  }
}

function failure (h: Holder, e: unknown): { state: HolderState, reason: string } {
  const reason = reasonOf(e)
  if (reason === 'denied') return { state: 'denied', reason }
  if (reason === 'approval-timeout' || reason === 'requester-gone') return { state: 'no-answer', reason }
  if (reason === 'cancelled') return { state: 'cancelled', reason }
  if (reason === 'bad-share' || reason === 'unwrap-failed' || reason === 'malformed') return { state: 'bad-share', reason }
  // A person was deciding and the answer never came: not answered, rather than unreachable.
  if (reason === 'timeout' || reason === 'unreachable' || reason === 'offline') return { state: h.state === 'waiting' ? 'no-answer' : 'unreachable', reason }
  return { state: 'refused', reason }
}

export function reasonOf (e: unknown): string {
  const r = (e as CairnError)?.details?.reason
  return typeof r === 'string' ? r : (e as Error)?.message?.slice(0, 64) ?? 'error'
}

export class UnsealAttempt {
  readonly startedAt = Date.now()
  readonly deadline: number
  private readonly versions: VersionCollection[]
  private timer: NodeJS.Timeout | undefined
  private cancelled = false
  readonly done: Promise<void>

  constructor (private readonly d: AttemptDeps) {
    this.deadline = this.startedAt + d.windowMs
    this.versions = d.versions.map(p => new VersionCollection(p, d, this.deadline))
    this.done = Promise.all(this.versions.map(async v => { await v.settled })).then(() => {
      if (this.timer !== undefined) clearTimeout(this.timer)
      d.onChange()
    })
  }

  start (): this {
    this.timer = setTimeout(() => { for (const v of this.versions) v.end('no-answer') }, this.d.windowMs)
    this.timer.unref()
    for (const v of this.versions) v.start()
    return this
  }

  cancel (): void {
    this.cancelled = true
    for (const v of this.versions) v.end('cancelled')
  }

  get finished (): boolean { return this.versions.every(v => v.done) }
  get succeeded (): boolean { return this.versions.every(v => v.ok) }

  /** The current key version's progress (the one a caller waits for). */
  progress (): UnsealProgress {
    const v = this.versions[0]!
    const ids = (pred: (h: Holder) => boolean): string[] => v.holders.filter(pred).map(h => h.entityId)
    const state = !this.finished ? 'pending' : this.succeeded ? 'unsealed' : this.cancelled ? 'cancelled' : 'failed'
    return {
      groupId: this.d.groupId, keyVersion: v.plan.kv, state, collected: v.collected(), needed: v.plan.threshold,
      startedAt: new Date(this.startedAt).toISOString(), deadline: new Date(this.deadline).toISOString(),
      holders: v.holders.map(h => ({ entityId: h.entityId, state: h.state, ...(h.reason !== undefined ? { reason: h.reason } : {}), ...(h.until !== undefined && h.state === 'waiting' ? { waitingUntil: new Date(h.until).toISOString() } : {}) })),
      approved: ids(h => h.state === 'granted' || h.state === 'approved'),
      denied: ids(h => h.state === 'denied'),
      waiting: ids(h => OPEN.has(h.state)),
      noAnswer: ids(h => h.state === 'no-answer' || h.state === 'unreachable')
    }
  }

  /** Per key version: whether it was rebuilt, the shares used, and who refused why. */
  outcome (): Array<{ kv: number, ok: boolean, threshold: number, collected: number, from: string[], refused: Array<{ entityId: string, reason: string }>, badShares: string[] }> {
    return this.versions.map(v => ({
      kv: v.plan.kv, ok: v.ok, threshold: v.plan.threshold, collected: v.collected(),
      from: v.chosen.map(h => h.entityId),
      refused: v.holders.filter(h => !GOOD.has(h.state) && h.state !== 'bad-share').map(h => ({ entityId: h.entityId, reason: h.reason ?? h.state })),
      badShares: v.holders.filter(h => h.state === 'bad-share').map(h => h.entityId)
    }))
  }
}
