/** Bundle `entryPoints` (name → compiled .js file, relative to `root`) into `outdir` with esbuild. See bundle-lib.mjs. */
export function bundleInto (root: string, entryPoints: Record<string, string>, outdir: string): void
/** The worker threads' entries (name → compiled file), for tsc output under `compiledDir` ('dist' or 'src'). See bundle-lib.mjs. */
export function workerEntries (compiledDir: string): Record<string, string>
