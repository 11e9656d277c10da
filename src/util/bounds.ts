/**
 * Bounds for parsed structures from untrusted sources (HTTP bodies, MCP tool
 * arguments, decrypted documents written by other members). V8 parses JSON
 * iteratively, but everything after it recurses: JSON.stringify, schema
 * validation, CBOR encoding, text extraction. 5,000 levels of `[` overflowed
 * the stack in JSON.stringify (a 500); bounding depth where the value enters
 * keeps every later step safe, whatever it does.
 */
import { InvalidInputError } from './errors.js'

export interface StructureLimits {
  /** Deepest nesting of arrays/objects; a scalar is depth 0 (default 100, MongoDB's limit). */
  maxDepth: number
  /** Most values (containers + scalars) in the whole structure (default 1,000,000). */
  maxNodes: number
}

export const DEFAULT_LIMITS: StructureLimits = { maxDepth: 100, maxNodes: 1_000_000 }

/**
 * The first limit the value breaks, or undefined. Iterative (an explicit
 * stack), so it is safe on any input the parser produced.
 */
export function structureViolation (value: unknown, limits: StructureLimits = DEFAULT_LIMITS): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 0]]
  let nodes = 0
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (++nodes > limits.maxNodes) return `more than ${limits.maxNodes} values`
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue
    if (depth + 1 > limits.maxDepth) return `nested deeper than ${limits.maxDepth} levels`
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)
    for (const c of children) stack.push([c, depth + 1])
  }
  return undefined
}

/** Throw INVALID_INPUT naming `what` when the value breaks a limit. */
export function assertBoundedStructure (value: unknown, what: string, limits: StructureLimits = DEFAULT_LIMITS): void {
  const why = structureViolation(value, limits)
  if (why !== undefined) throw new InvalidInputError(`${what} is ${why}; flatten it`, { limit: why })
}
