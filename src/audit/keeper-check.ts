/**
 * The local audit log against the keepers' copy of its checkpoints. Pure: the
 * copies (already opened and filtered to this node) and a lookup of the local
 * log's hashes in, a KeeperCheck out.
 *
 * A copy says "entry upTo of this node's log had hash head", signed by the
 * node key. Since each hash covers every entry before it, a copy that matches
 * the local log vouches for the whole prefix up to it. So:
 *  - every copy matches                 → ok;
 *  - a copy's entry is past the local end → `truncated` (entries the keepers
 *    saw signed are gone);
 *  - a copy's entry exists but differs   → `rewritten`;
 *  - a copy not signed by this node's key → `foreign-key`.
 * `brokenAt` is the first entry that may differ: one past the newest copy that
 * still matches (the break lies between it and the first copy that does not).
 */
import { verify as verifySig } from '../crypto/sign.js'
import { checkpointMessage } from './chain.js'
import type { AuditVerdict, KeeperCheck } from './audit-log.js'
import type { ChainVerdict } from './chain.js'

export interface CheckpointCopy { upTo: number, head: string, sig: string, key: string }

export function compareWithCopies (copies: readonly CheckpointCopy[], ownKey: Uint8Array, localTail: number, localHash: (seq: number) => string | undefined, refreshed: boolean, error?: string): KeeperCheck {
  const sorted = [...copies].sort((a, b) => a.upTo - b.upTo)
  const base = { refreshed, checkpoints: sorted.length, newestUpTo: sorted.at(-1)?.upTo ?? 0, ...(error !== undefined ? { error } : {}) }
  const ownHex = Buffer.from(ownKey).toString('hex')
  let lastGood = 0
  for (const c of sorted) {
    const signed = c.key === ownHex && verifySig(ownKey, checkpointMessage(c.upTo, c.head), Buffer.from(c.sig, 'hex'))
    if (!signed) return { ...base, ok: false, brokenAt: lastGood + 1, reason: 'foreign-key' }
    const h = c.upTo <= localTail ? localHash(c.upTo) : undefined
    if (h === c.head) { lastGood = c.upTo; continue }
    const reason = localTail < (sorted.at(-1)?.upTo ?? 0) ? 'truncated' : 'rewritten'
    return { ...base, ok: false, brokenAt: lastGood + 1, reason }
  }
  return { ...base, ok: true }
}

/**
 * One verdict from both checks. A broken local chain names the exact entry, so
 * it is the answer; the copies' `brokenAt` is a bound (the break lies after
 * the newest matching copy), the answer only when the local chain verifies.
 */
export function combineVerdicts (local: ChainVerdict, keepers: KeeperCheck | undefined): AuditVerdict {
  if (keepers === undefined) return local
  if (keepers.ok || !local.ok) return { ...local, keepers }
  return { ...local, ok: false, brokenAt: keepers.brokenAt!, reason: keepers.reason!, keepers }
}
