#!/usr/bin/env node
// Bundles the compiled CLI and daemon (dist/, from tsc) into dist/bundle/, so
// that `bin/cairn` loads a few files instead of ~1,100 modules: resolving and
// reading each was about half of a node's start (docs/PERFORMANCE.md, "Issue 14,
// bundled start-up"). Run by `npm run build`; how: scripts/bundle-lib.mjs.
import { join, resolve } from 'node:path'
import { bundleInto, workerEntries } from './bundle-lib.mjs'

const root = resolve(import.meta.dirname, '..')
bundleInto(root, { cli: 'dist/cli/entry.js', ...workerEntries('dist') }, join(root, 'dist/bundle'))
