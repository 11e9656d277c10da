/**
 * The suite registry: `npm run bench` runs these in this order; `npm run bench
 * -- <name>…` runs the named ones. To add a suite, write bench/suites/<name>.ts
 * exporting a Suite and add it here (see bench/README.md). Suites marked
 * `explicit` (keeper-memory, scale-keeper, scale-network, unseal) run only when named.
 */
import type { Suite } from '../lib/types.js'
import { cryptoSuite } from './crypto.js'
import { storeSuite } from './store.js'
import { httpSuite } from './http.js'
import { mcpSuite } from './mcp.js'
import { rotationSuite } from './rotation.js'
import { replicationSuite } from './replication.js'
import { syncSuite } from './sync.js'
import { catchupSuite } from './catchup.js'
import { circlesSuite } from './circles.js'
import { unsealSuite } from './unseal.js'
import { membershipSuite } from './membership.js'
import { auditSuite } from './audit.js'
import { groupVerifySuite } from './group-verify.js'
import { keeperMemorySuite } from './keeper-memory.js'
import { nodeLifeSuite } from './node-life.js'
import { startupSuite } from './startup.js'
import { scaleKeeperSuite } from './scale-keeper.js'
import { scaleNetworkSuite } from './scale-network.js'

export const SUITES: readonly Suite[] = [
  cryptoSuite,
  storeSuite,
  httpSuite,
  mcpSuite,
  rotationSuite,
  replicationSuite,
  syncSuite,
  catchupSuite,
  circlesSuite,
  membershipSuite,
  auditSuite,
  nodeLifeSuite,
  groupVerifySuite,
  keeperMemorySuite,
  startupSuite,
  scaleKeeperSuite,
  scaleNetworkSuite,
  unsealSuite
]
