/**
 * A schema error names what is allowed (issue 8: enum errors did not list the
 * values), whichever way the schema spells a closed set: `enum`, or a union of
 * constants as TypeBox literals compile to (ajv: one `const` error per branch,
 * then `anyOf`). Checked against ajv's real errors, not hand-written ones.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Ajv } from 'ajv'
import { toHttpError } from '../../src/api/errors.js'

function errorFor (schema: object, body: unknown): { status: number, code: string, message: string } {
  const v = new Ajv({ allErrors: false }).compile(schema)
  assert.equal(v(body), false)
  const e = toHttpError(Object.assign(new Error('validation failed'), { validation: v.errors, validationContext: 'body' }))
  return { status: e.status, code: e.body.error.code, message: e.body.error.message }
}

test('enum and union-of-constants errors list the allowed values and the field', () => {
  const roles = ['owner', 'admin', 'member', 'viewer']
  for (const role of [{ enum: roles }, { anyOf: roles.map(r => ({ const: r })) }]) {
    const e = errorFor({ type: 'object', properties: { role } }, { role: 'boss' })
    assert.equal(e.status, 400)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.match(e.message, /body\.role must be one of owner, admin, member, viewer/)
  }
})

test('a union that is not only constants keeps ajv\'s own words; a missing field is named', () => {
  const e = errorFor({ type: 'object', properties: { n: { anyOf: [{ type: 'integer' }, { const: 'all' }] } } }, { n: 'some' })
  assert.equal(e.code, 'INVALID_INPUT')
  assert.doesNotMatch(e.message, /must be one of/)
  const m = errorFor({ type: 'object', required: ['entityId'], properties: { entityId: { type: 'string' } } }, {})
  assert.match(m.message, /must have the field entityId/)
})
