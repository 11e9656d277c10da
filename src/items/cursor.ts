/** Opaque page cursors: base64url of "clock:recordId". A bad cursor is a 400, not a crash. */
import { isRecordId } from '../crypto/ids.js'
import { InvalidInputError } from '../util/errors.js'

export const encodeCursor = (c: { clock: number, rid: string }): string => Buffer.from(`${c.clock}:${c.rid}`).toString('base64url')

export function decodeCursor (s: string): { clock: number, rid: string } {
  const text = typeof s === 'string' && s.length < 200 ? Buffer.from(s, 'base64url').toString() : ''
  const i = text.indexOf(':')
  const clock = Number(text.slice(0, i))
  const rid = text.slice(i + 1)
  if (i < 1 || !Number.isSafeInteger(clock) || !isRecordId(rid)) throw new InvalidInputError('cursor is not one this node issued')
  return { clock, rid }
}
