/**
 * fast-check arbitraries from the JSON Schemas the API serves in its own
 * OpenAPI document: `valid(schema)` draws values the schema accepts,
 * `invalid(schema)` draws near misses (a missing required field, a wrong
 * type, a value past a bound, an unknown field, a deep or huge value).
 * Only the keywords the document uses are understood; an unknown keyword
 * falls back to "any JSON", so a richer document widens the fuzz, never breaks it.
 */
import fc from 'fast-check'

export type Schema = Record<string, unknown>

export interface Hints {
  /** Realistic values for a property name (IDs from a pool), drawn half of the time. */
  forName?: (name: string) => fc.Arbitrary<unknown> | undefined
  /** Resolve a `$ref`. */
  ref?: (ref: string) => Schema | undefined
}

const anyJson = fc.jsonValue({ maxDepth: 3 })
const nasty = fc.constantFrom('', ' ', '\u0000', '..', '%', '\ud800', 'null', '{}', '<script>', '\u202e', 'x'.repeat(300))

export function valid (schema: Schema | undefined, h: Hints = {}, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 6) return anyJson
  const s = resolve(schema, h)
  const hinted = name !== '' ? h.forName?.(name) : undefined
  const own = validOwn(s, h, depth)
  return hinted !== undefined ? fc.oneof(hinted, own) : own
}

function validOwn (s: Schema, h: Hints, depth: number): fc.Arbitrary<unknown> {
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]))
  if ('const' in s) return fc.constant(s.const)
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined
  if (Array.isArray(alts) && alts.length > 0) return fc.oneof(...alts.map(a => valid(a, h, '', depth + 1)))
  const type = Array.isArray(s.type) ? s.type[0] : s.type
  switch (type) {
    case 'string': {
      const min = num(s.minLength) ?? 0
      const max = Math.min(num(s.maxLength) ?? 200, min + 200)
      return fc.string({ minLength: min, maxLength: Math.max(min, max), unit: 'grapheme' }).filter(v => v.length >= min && v.length <= (num(s.maxLength) ?? Infinity))
    }
    case 'integer': return fc.integer({ min: num(s.minimum) ?? -1e6, max: num(s.maximum) ?? 1e6 })
    case 'number': return fc.double({ min: num(s.minimum) ?? -1e6, max: num(s.maximum) ?? 1e6, noNaN: true, noDefaultInfinity: true })
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': {
      const min = num(s.minItems) ?? 0
      return fc.array(valid(s.items as Schema | undefined, h, '', depth + 1), { minLength: min, maxLength: Math.min(num(s.maxItems) ?? 5, min + 5) })
    }
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>
      const required = new Set((s.required ?? []) as string[])
      if (Object.keys(props).length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 })
      const rec: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [k, v] of Object.entries(props)) rec[k] = valid(v, h, k, depth + 1)
      return fc.record(rec, { requiredKeys: [...required].filter(k => k in props) })
    }
    default: return anyJson
  }
}

/** A value the schema refuses (or one at its very edge), and whole-body oddities. */
export function invalid (schema: Schema | undefined, h: Hints = {}): fc.Arbitrary<unknown> {
  const s = schema === undefined ? {} : resolve(schema, h)
  const props = (s.properties ?? {}) as Record<string, Schema>
  const names = Object.keys(props)
  const base = valid(s, h) as fc.Arbitrary<Record<string, unknown>>
  const wrong = fc.oneof(anyJson, nasty, fc.integer(), fc.constant(null), fc.array(anyJson, { maxLength: 3 }))
  const variants: Array<fc.Arbitrary<unknown>> = [
    wrong, // not an object at all
    fc.integer({ min: 101, max: 20_000 }).map(n => new RawJson('['.repeat(n) + ']'.repeat(n))),
    fc.tuple(fc.constantFrom(...(names.length > 0 ? names : ['content'])), fc.integer({ min: 101, max: 20_000 }))
      .map(([k, n]) => new RawJson(`{${JSON.stringify(k)}:${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`)),
    fc.constantFrom('{', '{"a":', 'null', '"str"', '{"a":1,"a":2}', '\u0000', '[1,2,').map(t => new RawJson(t))
  ]
  if (names.length > 0) {
    const obj = base.filter(v => v !== null && typeof v === 'object' && !Array.isArray(v))
    variants.push(
      // a required field missing
      fc.tuple(obj, fc.constantFrom(...names)).map(([v, k]) => { const o = { ...v }; delete o[k]; return o }),
      // a field of the wrong type
      fc.tuple(obj, fc.constantFrom(...names), wrong).map(([v, k, w]) => ({ ...v, [k]: w })),
      // a field past its bound
      fc.tuple(obj, fc.constantFrom(...names)).map(([v, k]) => ({ ...v, [k]: pastBound(props[k]!) })),
      // unknown and prototype-polluting fields
      fc.tuple(obj, fc.constantFrom('unknownField', '__proto__', 'constructor', 'prototype')).map(([v, k]) => ({ ...v, [k]: { polluted: true } }))
    )
  }
  return fc.oneof(...variants)
}

/** Just outside what the schema allows, by its own numbers. */
function pastBound (s: Schema): unknown {
  if (typeof s.maxLength === 'number') return 'x'.repeat(s.maxLength + 1)
  if (typeof s.maximum === 'number') return s.maximum + 1
  if (typeof s.minimum === 'number') return s.minimum - 1
  if (typeof s.maxItems === 'number') return Array.from({ length: s.maxItems + 1 }, () => 'x')
  if (Array.isArray(s.enum)) return 'not-one-of-the-values'
  if (s.type === 'string') return 12345
  let v: unknown = 0
  for (let i = 0; i < 150; i++) v = [v]
  return v // past the API's depth bound of 100
}

/** A body sent as this exact text (deep nesting the test's own JSON.stringify need not walk). */
export class RawJson {
  constructor (readonly text: string) {}
}

/** The request body text of a drawn value. */
export function bodyText (v: unknown): string {
  if (v instanceof RawJson) return v.text
  return JSON.stringify(v)
}

function resolve (s: Schema, h: Hints): Schema {
  let cur = s
  for (let i = 0; i < 8 && typeof cur.$ref === 'string'; i++) cur = h.ref?.(cur.$ref) ?? {}
  return cur
}

const num = (v: unknown): number | undefined => typeof v === 'number' ? v : undefined
