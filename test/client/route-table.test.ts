/**
 * The client builds its requests from src/client/route-table.ts, so that it
 * does not load the schemas; the table must say what routes.ts says.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { routeTable } from '../../src/client/route-table.js'
import { routeTableOf } from '../../src/client/route-table-of.js'
import { routes } from '../../src/contract/routes.js'

test('the client\'s route table has every route of the contract with its method, path and body (else: node --import tsx scripts/gen-route-table.mjs)', () => {
  assert.deepEqual(routeTable, routeTableOf(routes))
})
