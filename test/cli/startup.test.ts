/**
 * A CLI verb that only talks HTTP to the daemon loads what that needs, not the
 * node: every `cairn` call of a script (or of this suite) pays for what its
 * start loads. Counted with a module loader hook, not timed (the machine is
 * shared): a verb that again drags typebox or libp2p in fails here.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BIN, stopAll, tempDir } from '../helpers/cli.js'

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

// Packages a client-only verb has no use for: the schemas, libp2p, crypto, the config parser.
const NODE_ONLY = /\/node_modules\/(@sinclair\/typebox|@libp2p\/|libp2p\/|@chainsafe\/|@noble\/|multiformats\/|better-sqlite3\/|smol-toml\/)/

for (const args of [['--help'], ['status'], ['--json', 'group', 'ls'], ['ls']]) {
  test(`\`cairn ${args.join(' ')}\` (no daemon) loads none of the node's packages and under 100 modules`, () => {
    const { status, urls } = modulesOf(['--data-dir', join(tempDir('cairn-startup-none-'), 'none'), ...args])
    assert.equal(status, args[0] === '--help' ? 0 : 1, 'the verb ran to its usual end')
    assert.deepEqual(urls.filter(u => NODE_ONLY.test(u)), [])
    assert.ok(urls.length < 100, `${urls.length} modules loaded`)
    assert.ok(urls.some(u => u.endsWith('/dist/cli/main.js')), 'the hook saw the CLI load')
  })
}
