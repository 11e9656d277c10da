import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from '../helpers/cli.js'

// The import rules of docs/ARCHITECTURE.md (.dependency-cruiser.cjs), over the build the runner just made.
test('module import rules hold (crypto pure, groups without network, only node/ composes)', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), 'dist', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
