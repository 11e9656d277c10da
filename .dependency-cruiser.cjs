/**
 * The import rules of docs/ARCHITECTURE.md, checked over dist/ by `npm run lint:deps`
 * (and by test/architecture/dependencies.test.ts, so CI enforces them).
 */
const from = (dir) => ({ path: `^dist/${dir}/` })
const notTo = (...dirs) => ({ path: `^dist/(${dirs.join('|')})/` })
const values = {}

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true, ...values } },
    { name: 'util-imports-nothing-of-ours', severity: 'error', from: from('util'), to: notTo('polyfill', 'crypto', 'records', 'store', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'polyfill-imports-nothing-of-ours', severity: 'error', from: from('polyfill'), to: notTo('util', 'crypto', 'records', 'store', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'config-only-util', severity: 'error', from: from('config'), to: notTo('polyfill', 'crypto', 'records', 'store', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'api', 'cli', 'node') },
    { name: 'audit-above-store-only', severity: 'error', from: from('audit'), to: notTo('records', 'vault', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'jobs-above-store-only', severity: 'error', from: from('jobs'), to: notTo('crypto', 'records', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'config', 'api', 'cli', 'node') },
    { name: 'search-reads-records-only', severity: 'error', from: from('search'), to: notTo('vault', 'audit', 'groups', 'items', 'circles', 'replication', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'crypto-is-pure', severity: 'error', from: from('crypto'), to: notTo('records', 'store', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'records-only-crypto', severity: 'error', from: from('records'), to: notTo('store', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'store-knows-no-semantics', severity: 'error', from: from('store'), to: notTo('crypto', 'records', 'vault', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'config', 'api', 'cli', 'node') },
    { name: 'vault-below-groups', severity: 'error', from: from('vault'), to: notTo('store', 'audit', 'groups', 'items', 'circles', 'replication', 'search', 'jobs', 'api', 'cli', 'node') },
    { name: 'groups-no-network-no-circles', severity: 'error', from: from('groups'), to: notTo('items', 'circles', 'replication', 'search', 'api', 'cli', 'node') },
    { name: 'items-below-api', severity: 'error', from: from('items'), to: notTo('circles', 'replication', 'api', 'cli', 'node') },
    { name: 'circles-below-node', severity: 'error', from: from('circles'), to: notTo('items', 'api', 'cli', 'node') },
    { name: 'replication-below-node', severity: 'error', from: from('replication'), to: notTo('items', 'circles', 'api', 'cli', 'node') },
    { name: 'api-uses-service-types-only', severity: 'error', from: from('api'), to: { ...notTo('store', 'vault', 'groups', 'items', 'circles', 'replication', 'node', 'cli'), ...values } },
    { name: 'cli-through-the-client', severity: 'error', from: from('cli'), to: { ...notTo('api', 'store', 'vault', 'groups', 'records', 'replication', 'circles', 'items', 'audit'), ...values } },
    { name: 'contract-is-pure', severity: 'error', from: from('contract'), to: { path: '^dist/', pathNot: '^dist/contract/' } },
    // `cairn/client` ships to agent developers: it must load without the node (libp2p, SQLite, fastify).
    { name: 'client-stands-alone', severity: 'error', from: from('client'), to: { path: '^dist/', pathNot: '^dist/(client|contract)/|^dist/util/(errors|data-paths)\\.js$' } },
    { name: 'mcp-through-the-client', severity: 'error', from: from('mcp'), to: { path: '^dist/', pathNot: '^dist/(mcp|client|contract)/|^dist/util/' } },
    { name: 'record-bytes-through-record-ts', severity: 'error', comment: 'records/envelope.ts decodes without the body check by kind: only records/ uses it (others: records/record.ts)', from: { pathNot: '^dist/records/' }, to: { path: '^dist/records/envelope\\.js$' } },
    { name: 'only-node-composes', severity: 'error', from: { pathNot: '^dist/(node|cli)/' }, to: { path: '^dist/node/', ...values } }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Run over the compiled output: TypeScript 7's native compiler has no JS API
    // for dependency-cruiser to parse with, and in dist/ type-only imports are
    // already erased, which is exactly the distinction these rules draw.
    // dist/bundle/ is esbuild's bundle of the same code (scripts/bundle.mjs).
    exclude: { path: '^node_modules/|^dist/bundle/|\\.map$' }
  }
}
