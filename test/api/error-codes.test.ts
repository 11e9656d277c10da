/**
 * Error codes a caller can act on (util/errors.ts): each 409 says what to do
 * next, not only that something conflicted. HTTP statuses stay as SPEC §7.1
 * says (409 for conflicts).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { entityIdFromPublicKey } from '../../src/crypto/ids.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { localNode, type LocalNode } from '../helpers/in-process.js'
import { assertErrorEnvelope } from '../helpers/http.js'
import { stopAll } from '../helpers/cli.js'

let n: LocalNode
before(async () => { n = await localNode({ env: { CAIRN_LIMITS_MAX_GROUPS: '4' } }) })
after(async () => { await n?.stop(); await stopAll() })

const someone = (): string => entityIdFromPublicKey(generateSigningKey().publicKey)

test('409 NOT_A_CIRCLE: unsealing a group whose key is in the vault; 409 IS_A_CIRCLE: rotating a circle by hand', async () => {
  const g = await n.ok('POST', '/api/v1/groups', { name: 'plain' })
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${g.id}/unseal`, {}), 409, 'NOT_A_CIRCLE')
  const c = await n.ok('POST', '/api/v1/groups', { name: 'circle', circle: { threshold: 2, members: [someone(), someone()] } })
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${c.id}/rotate`), 409, 'IS_A_CIRCLE')
})

test('409 KEY_EXHAUSTED: a key version that sealed its maximum of items refuses writes until rotated; then writes go on', async () => {
  const g = await n.ok('POST', '/api/v1/groups', { name: 'worn key' })
  n.daemon.services.store.bumpKeyUsage(g.id, 1, 2 ** 31)
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${g.id}/items`, { content: 'one too many' }), 409, 'KEY_EXHAUSTED')
  await n.ok('POST', `/api/v1/groups/${g.id}/rotate`)
  assert.equal((await n.api('POST', `/api/v1/groups/${g.id}/items`, { content: 'under the new key' })).status, 201)
})

test('409 LIMIT_REACHED: a node at limits.max_groups creates no more groups; 409 CONFLICT: adding a keeper twice', async () => {
  for (;;) {
    const r = await n.api('POST', '/api/v1/groups', { name: 'one more' })
    if (r.status === 201) continue
    assertErrorEnvelope(r, 409, 'LIMIT_REACHED')
    break
  }
  assert.equal(n.daemon.services.store.listGroups().length, 4)
  const pg = n.personalGroupId!
  const keeper = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
  assert.equal((await n.api('POST', `/api/v1/groups/${pg}/keepers`, { peerId: keeper })).status, 201)
  assertErrorEnvelope(await n.api('POST', `/api/v1/groups/${pg}/keepers`, { peerId: keeper }), 409, 'CONFLICT')
})
