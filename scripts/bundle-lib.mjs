// How cairn's compiled JavaScript is bundled with esbuild: for bin/cairn
// (scripts/bundle.mjs → dist/bundle/) and for the bench's node processes
// (bench/lib/build.ts), so that both run what a user runs.
//
// - Code splitting keeps the CLI's lazy loading: an HTTP-only verb loads the
//   CLI's chunks, and the node (libp2p, SQLite, schemas) only when it starts one.
// - Each worker thread's module is an entry of its own, beside the chunks
//   (workerEntries): it is loaded as `new URL('./verify-worker.js', import.meta.url)`.
// - `outdir` must sit two levels under the package root, as the sources' own
//   `../../package.json` and `../../bin/cairn` expect; chunks go beside the entries.
// - better-sqlite3 and sodium-native stay packages: each loads its native addon by path.
// - `<outdir>/meta.json` (esbuild's metafile) says which input went into which
//   output file (test/cli/startup.test.ts reads it).
import { buildSync } from 'esbuild'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The worker threads' entries (name → compiled file), for tsc output under `compiledDir` ('dist' or 'src'). */
export function workerEntries (compiledDir) {
  return {
    'verify-worker': `${compiledDir}/replication/verify-worker.js`,
    'reencrypt-worker': `${compiledDir}/groups/reencrypt-worker.js`
  }
}

/** Bundle `entryPoints` (name → compiled .js file, relative to `root`) into `outdir`, replacing what it held. */
export function bundleInto (root, entryPoints, outdir) {
  rmSync(outdir, { recursive: true, force: true })
  const r = buildSync({
    absWorkingDir: root,
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    external: ['better-sqlite3', 'sodium-native'],
    // CommonJS packages inside an ES module bundle call require() for Node's own modules.
    banner: { js: "import { createRequire as __cairnRequire } from 'node:module'; const require = __cairnRequire(import.meta.url);" },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none'
  })
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(r.metafile))
}
