import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../helpers/cli.js'
import { filesUnder } from '../helpers/scan.js'

// knip.json: no unused file, export or dependency anywhere in src/, bench/, test/.
test('knip finds no unused file, export or dependency', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/knip/bin/knip.js'), '--no-progress'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('every module under src/ has its import rule in .dependency-cruiser.cjs (node/ is the one that may import all)', () => {
  const config = readFileSync(join(ROOT, '.dependency-cruiser.cjs'), 'utf8')
  const ruled = new Set([...config.matchAll(/from: from\('([a-z]+)'\)/g)].map(m => m[1]))
  const modules = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter(d => d.isDirectory()).map(d => d.name)
  assert.deepEqual(modules.filter(m => m !== 'node' && !ruled.has(m)), [])
})

test('no file under src/ is over 400 lines (past that it is usually two concepts)', () => {
  const long = filesUnder(join(ROOT, 'src')).filter(f => f.endsWith('.ts'))
    .map(f => [f.slice(ROOT.length + 1), readFileSync(f, 'utf8').split('\n').length - 1] as const)
    .filter(([, n]) => n > 400)
  assert.deepEqual(long, [])
})
