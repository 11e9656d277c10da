/**
 * Structured logs (pino). Log lines carry opaque IDs, counts and reasons only:
 * never content, names, passphrases or keys (a test scans logs for markers).
 */
import pino, { type Logger } from 'pino'

export type { Logger }

export function createLogger (level: string, file?: string): Logger {
  const dest = file !== undefined && file !== '' ? pino.destination({ dest: file, sync: true, mkdir: true }) : pino.destination({ fd: 2, sync: true })
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest)
}

export const silentLogger = (): Logger => pino({ level: 'silent' })
