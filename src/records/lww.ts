/**
 * Last-writer-wins order between two versions of the same record:
 * higher clock wins; on equal clocks the higher key version wins (a re-encryption
 * keeps the clock of the version it re-encrypts and must replace it); then the
 * record hash decides, so every node picks the same winner.
 */
import { compareBytes } from '../crypto/bytes.js'

export interface VersionKey { clock: number, kv: number, hash: Uint8Array }

export function compareVersions (a: VersionKey, b: VersionKey): number {
  if (a.clock !== b.clock) return a.clock < b.clock ? -1 : 1
  if (a.kv !== b.kv) return a.kv < b.kv ? -1 : 1
  return compareBytes(a.hash, b.hash)
}

export const isNewer = (candidate: VersionKey, current: VersionKey | undefined): boolean =>
  current === undefined || compareVersions(candidate, current) > 0
