/** Parsing of path and query parameters (query strings are never coerced by the schema validator). */
import { isGroupId, isRecordId, type GroupId } from '../crypto/ids.js'
import { CairnError, InvalidInputError } from '../util/errors.js'

export function intParam (v: string | undefined, name: string, o: { min: number, max: number, def?: number }): number | undefined {
  if (v === undefined || v === '') return o.def
  if (!/^\d{1,9}$/.test(v)) throw new InvalidInputError(`${name} must be an integer from ${o.min} to ${o.max}`)
  const n = Number(v)
  if (n < o.min || n > o.max) throw new InvalidInputError(`${name} must be an integer from ${o.min} to ${o.max}`)
  return n
}

export function strParam (v: string | undefined, name: string, max = 1000): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v.length > max) throw new InvalidInputError(`${name} must be a string of at most ${max} characters`)
  return v
}

export function groupParam (v: string | undefined): GroupId {
  if (!isGroupId(v)) throw new CairnError('NOT_FOUND', `no group ${String(v).slice(0, 64)} (group IDs are UUID v4)`)
  return v
}

export function itemParam (v: string | undefined): string {
  if (!isRecordId(v)) throw new CairnError('NOT_FOUND', `no item ${String(v).slice(0, 64)} (item IDs are UUIDs)`)
  return v
}
