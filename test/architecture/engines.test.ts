/**
 * Every package in the lock file supports the Node.js this project declares
 * (package.json `engines`, and the Node 20 it runs on here): `npm ci` must not
 * print EBADENGINE (issue 8: cookie@2.0.2 and p-retry@8.0.1 wanted Node 22; they
 * are pinned to 1.1.1 and 7.1.1 through package.json `overrides`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { ROOT } from '../helpers/cli.js'

test('no package in package-lock.json requires a Node.js newer than the engines range allows', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, engines?: { node?: string } | string[] }> }
  const floor = semver.minVersion(pkg.engines.node)!.version
  const bad: string[] = []
  for (const [path, p] of Object.entries(lock.packages)) {
    const range = Array.isArray(p.engines) ? undefined : p.engines?.node
    if (path === '' || range === undefined) continue
    for (const v of [floor, process.version]) {
      if (!semver.satisfies(v, range, { includePrerelease: true })) bad.push(`${path.replace(/^.*node_modules\//, '')}@${p.version ?? '?'} wants node ${range}, not ${v}`)
    }
  }
  assert.deepEqual(bad, [])
})
