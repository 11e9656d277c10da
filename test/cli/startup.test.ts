/**
 * A CLI verb that only talks HTTP to the daemon loads what that needs, not the
 * node: every `cairn` call of a script (or of this suite) pays for what its
 * start loads. bin/cairn runs the bundle (scripts/bundle.mjs): the files it
 * loads are seen with a module loader hook, and what went into each is read
 * from the bundle's metafile. Counted, not timed (the machine is shared): a verb
 * that again drags typebox or libp2p in fails here.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BIN, ROOT, stopAll, tempDir } from '../helpers/cli.js'

after(stopAll)

/** The URL of every module `cairn <args>` loads (and its exit status). */
function modulesOf (args: string[]): { status: number | null, urls: string[] } {
  const dir = tempDir('cairn-startup-')
  const out = join(dir, 'loaded.txt')
  writeFileSync(join(dir, 'hook.mjs'), `import { appendFileSync } from 'node:fs'
export async function resolve (spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(${JSON.stringify(out)}, r.url + '\\n'); return r }
`)
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)})\n`)
  writeFileSync(out, '')
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CAIRN_PASSPHRASE: undefined } })
  return { status: r.status, urls: [...new Set(readFileSync(out, 'utf8').split('\n').filter(u => u !== ''))] }
}

/** The source modules inside the bundle files among `urls` (esbuild's metafile), and the files outside it. */
function sourcesOf (urls: string[]): string[] {
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle/meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> }
  return urls.filter(u => u.startsWith('file:')).flatMap(u => {
    const file = relative(ROOT, fileURLToPath(u))
    return meta.outputs[file] !== undefined ? Object.keys(meta.outputs[file].inputs) : [file]
  })
}

// Packages a client-only verb has no use for: the schemas, libp2p, crypto, the config parser.
const NODE_ONLY = /(^|\/)node_modules\/(@sinclair\/typebox|@libp2p\/|libp2p\/|@chainsafe\/|@noble\/|multiformats\/|better-sqlite3\/|smol-toml\/)/

for (const args of [['--help'], ['status'], ['--json', 'group', 'ls'], ['ls']]) {
  test(`\`cairn ${args.join(' ')}\` (no daemon) loads none of the node's packages and under 100 modules`, () => {
    const { status, urls } = modulesOf(['--data-dir', join(tempDir('cairn-startup-none-'), 'none'), ...args])
    assert.equal(status, args[0] === '--help' ? 0 : 1, 'the verb ran to its usual end')
    const sources = sourcesOf(urls)
    assert.ok(sources.includes('dist/cli/main.js'), 'the hook saw the bundled CLI load')
    assert.deepEqual(sources.filter(u => NODE_ONLY.test(u)), [])
    assert.ok(sources.length < 100, `${sources.length} modules loaded`)
    assert.ok(urls.filter(u => u.startsWith('file:')).length < 20, `${urls.length} files loaded`)
  })
}
