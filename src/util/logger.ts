/**
 * Structured logs (pino). Log lines carry opaque IDs, counts and reasons only:
 * never content, names, passphrases or keys (a test scans logs for markers).
 *
 * Where they go: a file (CAIRN_LOG_FILE) or stderr, as JSON lines — except on
 * a terminal, where an operator reads them: pino-pretty lines
 * ("10:42:07 INFO: peer …a1b2c3 connected (keeper)"), written synchronously so
 * the last line ("cairn node stopped") is out before the process exits.
 */
import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

export interface LoggerOptions { file?: string, pretty?: boolean }

export function createLogger (level: string, fileOrOptions?: string | LoggerOptions): Logger {
  const o: LoggerOptions = typeof fileOrOptions === 'string' ? { file: fileOrOptions } : fileOrOptions ?? {}
  const opts = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }
  if (o.file !== undefined && o.file !== '') return pino(opts, pino.destination({ dest: o.file, sync: true, mkdir: true }))
  if (o.pretty ?? process.stderr.isTTY === true) {
    return pino(opts, pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }))
  }
  return pino(opts, pino.destination({ fd: 2, sync: true }))
}

export const silentLogger = (): Logger => pino({ level: 'silent' })
