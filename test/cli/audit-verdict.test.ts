/**
 * What `cairn audit verify` prints (describeVerdict, pure): counts read as
 * English, and a node whose personal group has no keeper is told so and how to
 * give it one, not "nothing to compare yet".
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { describeVerdict } from '../../src/cli/commands/audit-commands.js'

const intact = { ok: true, entries: 1, checkpoints: 1, signedUpTo: 1, tail: { seq: 1, hash: '00' } } as const

test('one entry and one checkpoint are singular; more are plural', () => {
  assert.match(describeVerdict({ ...intact }), /^audit log intact: 1 entry, 1 signed checkpoint \(signed up to entry 1\)$/)
  assert.match(describeVerdict({ ...intact, entries: 2001, checkpoints: 2, signedUpTo: 2000 }), /^audit log intact: 2001 entries, 2 signed checkpoints/)
  const one = describeVerdict({ ...intact, keepers: { refreshed: true, checkpoints: 1, newestUpTo: 1000, ok: true } })
  assert.match(one, /keepers' copy: 1 checkpoint up to entry 1000, it matches \(fetched from the keepers just now\)/)
})

test('no keeper: the line says the log is checked against itself and names the command that adds one', () => {
  const out = describeVerdict({ ...intact, keepers: { refreshed: false, checkpoints: 0, newestUpTo: 0, ok: true, noKeeper: true, error: 'the personal group has no keeper' } })
  assert.match(out, /keepers' copy: none .*no keeper.*cairn group add-keeper/)
  assert.doesNotMatch(out, /nothing to compare/)
})

test('a keeper that holds nothing yet is still "nothing to compare yet", with its reason', () => {
  const out = describeVerdict({ ...intact, keepers: { refreshed: true, checkpoints: 0, newestUpTo: 0, ok: true } })
  assert.match(out, /keepers' copy: nothing to compare yet \(no checkpoint has been copied\)/)
})
