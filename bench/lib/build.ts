/**
 * The node processes of the bench run cairn as `cairn start` does: compiled
 * JavaScript under plain `node`, not TypeScript through tsx. It matters twice:
 *  - under `node --import tsx` on Node 20 the loader hooks do not reach worker
 *    threads, so the sync verifier's worker pool (src/replication/verifier.ts)
 *    cannot load verify-worker.ts and every bulk transfer hangs;
 *  - tsx's loader thread and transform cache add ~60 MiB of RSS, which the
 *    keeper memory figures must not include.
 *
 * ensureBuild() compiles src/ and the child entry (daemon-child.ts with
 * bench-controls.ts and ipc.ts) once per harness run, with the project's
 * compiler options, into a private directory (node_modules/.cache/cairn-bench/
 * <pid>/, beside a copy of package.json for the module type and version): the
 * shared dist/ is never touched and the figures are always those of the current
 * sources. The directory is removed when the harness exits. Then it bundles the
 * child as `npm run build` bundles bin/cairn (scripts/bundle-lib.mjs, into
 * <dir>/bundle/child/): the processes start and run as a user's do. With
 * CAIRN_BENCH_PROFILE the processes run the unbundled files instead, so that a
 * profile attributes time to source files and packages (bench/lib/profile.ts).
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { bundleInto, workerEntries } from '../../scripts/bundle-lib.mjs'

const ROOT = resolve(import.meta.dirname, '../..')
let built: string | undefined
let compiledRoot: string | undefined

/** The bundled daemon-child.js (the compiled one under CAIRN_BENCH_PROFILE), built on first call. */
export function ensureBuild (): string {
  if (built !== undefined) return built
  const base = join(ROOT, 'node_modules/.cache/cairn-bench', String(process.pid))
  rmSync(base, { recursive: true, force: true })
  mkdirSync(base, { recursive: true })
  process.once('exit', () => rmSync(base, { recursive: true, force: true }))
  copyFileSync(join(ROOT, 'package.json'), join(base, 'package.json'))
  const tsconfig = join(base, 'tsconfig.json')
  writeFileSync(tsconfig, JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { rootDir: ROOT, outDir: base, sourceMap: true, noEmit: false },
    include: [join(ROOT, 'src/**/*.ts'), join(ROOT, 'bench/lib/daemon-child.ts')]
  }))
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { cwd: ROOT, encoding: 'utf8' })
  compiledRoot = base
  const child = join(base, 'bench/lib/daemon-child.js')
  // Type errors still emit JavaScript: run it (another session may be mid-edit),
  // but say so; no output at all is fatal.
  if (!existsSync(child) || !existsSync(join(base, 'src/replication/verify-worker.js'))) throw new Error(`compiling src/ for the node processes failed: ${r.stdout}${r.stderr}`)
  if (r.status !== 0) process.stderr.write(`bench: tsc reported errors; node processes run what it emitted:\n${(r.stdout + r.stderr).slice(0, 2000)}\n`)
  if (process.env.CAIRN_BENCH_PROFILE !== undefined && process.env.CAIRN_BENCH_PROFILE !== '') return (built = child)
  const out = join(base, 'bundle/child')
  bundleInto(base, { 'daemon-child': 'bench/lib/daemon-child.js', ...workerEntries('src') }, out)
  return (built = join(out, 'daemon-child.js'))
}

/**
 * A module of this run's compiled sources (`rel` under src/, without .js), for
 * suites that run the node's code inside the harness (rotation): as compiled
 * JavaScript its worker threads start, as `cairn start`'s do; under tsx they
 * cannot, and the work stays on the main thread.
 */
export async function compiledModule<T> (rel: string): Promise<T> {
  ensureBuild()
  return await import(pathToFileURL(join(compiledRoot!, 'src', `${rel}.js`)).href) as T
}
