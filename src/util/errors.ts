/**
 * One error base with a stable `code`. The API maps codes to HTTP statuses in
 * one place (api/errors.ts); tests assert on `code` or `name`, never on text.
 *
 * The 409s, by what a caller does next:
 *  CONFLICT           the request contradicts the current state and repeating it
 *                     will not help: it is already so (already a member with
 *                     that role, already a keeper, a share request already
 *                     answered, a daemon already running on the data dir), or it
 *                     would leave what cannot be (no owner, fewer circle members
 *                     than the threshold). Read the state, then decide.
 *  CONCURRENT_CHANGE  the group changed while the request was applied (`reason`
 *                     in the details): retrying is safe.
 *  LIMIT_REACHED      a configured or structural limit (limits.max_groups, 255
 *                     circle members).
 *  KEY_EXHAUSTED      the group key sealed its maximum of items: rotate it.
 *  IS_A_CIRCLE / NOT_A_CIRCLE  the call is for the other kind of group.
 *  APPEND_ONLY        edits and deletes are refused in an append-only group.
 */
export type ErrorCode =
  | 'INVALID_INPUT' | 'BAD_PASSPHRASE' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND'
  | 'CONFLICT' | 'CONCURRENT_CHANGE' | 'LIMIT_REACHED' | 'KEY_EXHAUSTED' | 'IS_A_CIRCLE' | 'NOT_A_CIRCLE'
  | 'APPEND_ONLY' | 'TOO_LARGE' | 'VAULT_LOCKED' | 'CIRCLE_SEALED'
  | 'INSUFFICIENT_SHARES' | 'BAD_SHARE' | 'NO_PEERS' | 'INTEGRITY'
  | 'KEEPER_HAS_NO_KEYS' | 'CONFIG' | 'NOT_INITIALIZED' | 'ALREADY_INITIALIZED'
  | 'UNAVAILABLE' | 'TIMEOUT' | 'INTERNAL' | 'HOST_NOT_ALLOWED'
  /** The disk (or keeper.max_bytes) is full: nothing was written; retry once space is freed. */
  | 'STORAGE_FULL'
  /** Too many attempts (unlock after failures, a flooding peer): wait `retryAfterSeconds`. */
  | 'THROTTLED'
  /** An HTTP request whose URL or headers exceed the server's limit. */
  | 'HEADERS_TOO_LARGE'
  /** An HTTP client too slow to send its request. */
  | 'REQUEST_TIMEOUT'

export class CairnError extends Error {
  static override name = 'CairnError'
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor (code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'CairnError'
    this.code = code
    this.details = details
  }
}

/** Ciphertext, signature or structure failed verification: never return what was read. */
export class IntegrityError extends CairnError {
  static override name = 'IntegrityError'
  constructor (message: string, details?: Record<string, unknown>) {
    super('INTEGRITY', message, details)
    this.name = 'IntegrityError'
  }
}

export class InvalidInputError extends CairnError {
  static override name = 'InvalidInputError'
  constructor (message: string, details?: Record<string, unknown>) {
    super('INVALID_INPUT', message, details)
    this.name = 'InvalidInputError'
  }
}

export const isCairnError = (e: unknown): e is CairnError => e instanceof CairnError

/** SQLite's "database or disk is full" or the OS's "no space left on device". */
export function isDiskFull (e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || (typeof code === 'string' && code.startsWith('SQLITE_FULL'))
}

/** SQLite found a damaged page (bit rot, a torn write, a file edited by hand). */
export function isStorageCorrupt (e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
}

export function storageCorrupt (e: unknown): CairnError {
  return new IntegrityError(`the node's database is damaged (${String((e as { code?: unknown }).code)}): restore this node from its keepers with \`cairn recover\` (a keeper: remove its database and restart; it refetches what it stored)`)
}

/** A disk-full error from any layer as the one code the API and the network understand. */
export function storageFull (e: unknown, what = 'the write'): CairnError {
  return new CairnError('STORAGE_FULL', `${what} was refused: the disk holding the data dir is full (${String((e as { code?: unknown }).code ?? 'no space')}); nothing was lost; free some space and retry`)
}

export function errorMessage (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
