/** Output for people (aligned text) or scripts (--json: one JSON document on stdout). */
import { CairnError, isCairnError } from '../util/errors.js'

export interface OutputOptions { json: boolean }

export function emit (o: OutputOptions, value: unknown, human: () => string): void {
  if (o.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n')
  else process.stdout.write(human() + '\n')
}

export function table (rows: string[][]): string {
  if (rows.length === 0) return ''
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)))
  return rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join('  ')).join('\n')
}

const HINTS: Partial<Record<string, string>> = {
  VAULT_LOCKED: 'run `cairn unlock`',
  UNAVAILABLE: 'is the daemon running? start it with `cairn start`',
  UNAUTHORIZED: 'the CLI reads the token from <dataDir>/api-token; check --data-dir',
  NOT_INITIALIZED: 'run `cairn init` first'
}

/** Print an error the way the user asked for, and return the exit code. */
export function reportError (o: OutputOptions, e: unknown): number {
  const err = isCairnError(e) ? e : new CairnError('INTERNAL', (e as Error)?.message ?? String(e))
  if (o.json) {
    // The API's details (who refused a share, which limit…) stay with the error; the HTTP status does not.
    const { status: _status, ...details } = err.details ?? {}
    process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message, ...details } }) + '\n')
  } else {
    const hint = HINTS[err.code]
    process.stderr.write(`error: ${err.message}${hint !== undefined && !err.message.includes(hint) ? `\n  hint: ${hint}` : ''}\n`)
  }
  return err.code === 'INVALID_INPUT' ? 2 : 1
}
