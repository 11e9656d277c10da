/** Bundle `entryPoints` (name → compiled .js file, relative to `root`) into `outdir` with esbuild. See bundle-lib.mjs. */
export function bundleInto (root: string, entryPoints: Record<string, string>, outdir: string): void
