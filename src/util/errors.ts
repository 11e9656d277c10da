/**
 * One error base with a stable `code`. The API maps codes to HTTP statuses in
 * one place (api/errors.ts); tests assert on `code` or `name`, never on text.
 */
export type ErrorCode =
  | 'INVALID_INPUT' | 'BAD_PASSPHRASE' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND'
  | 'CONFLICT' | 'APPEND_ONLY' | 'TOO_LARGE' | 'VAULT_LOCKED' | 'CIRCLE_SEALED'
  | 'INSUFFICIENT_SHARES' | 'BAD_SHARE' | 'NO_PEERS' | 'INTEGRITY' | 'NOT_A_MEMBER'
  | 'KEEPER_HAS_NO_KEYS' | 'CONFIG' | 'NOT_INITIALIZED' | 'ALREADY_INITIALIZED'
  | 'UNAVAILABLE' | 'TIMEOUT' | 'INTERNAL' | 'HOST_NOT_ALLOWED' | 'UNSUPPORTED' | 'INTERRUPTED'

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

export function errorMessage (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
