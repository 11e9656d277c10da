#!/usr/bin/env node
// Runs the test suite with node's own test runner (through tsx), after building
// dist/ and its bundle (end-to-end tests start real `bin/cairn` processes).
//   node scripts/run-tests.mjs              every test/**/*.test.ts
//   node scripts/run-tests.mjs test/crypto  only files under a path
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { acquireMachineSlot } from './machine-slot.mjs'

const root = resolve(import.meta.dirname, '..')
const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
const bundle = spawnSync(process.execPath, [join(root, 'scripts/bundle.mjs')], { stdio: 'inherit' })
if (bundle.status !== 0) process.exit(bundle.status ?? 1)

function walk (p, out) {
  const st = statSync(p)
  if (st.isDirectory()) { for (const f of readdirSync(p).sort()) walk(join(p, f), out) }
  else if (p.endsWith('.test.ts')) out.push(p)
  return out
}
const args = process.argv.slice(2)
const roots = args.length > 0 ? args : [join(root, 'test')]
const files = roots.flatMap(r => walk(resolve(r), []))
if (files.length === 0) { console.error('no test files found'); process.exit(1) }

await acquireMachineSlot('npm test')
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--import', join(root, 'src/polyfill/index.ts'),
  '--test', '--test-reporter=spec', `--test-concurrency=${process.env.CAIRN_TEST_CONCURRENCY ?? 2}`,
  ...files
], { stdio: 'inherit', cwd: root, env: process.env })
process.exit(r.status ?? 1)
