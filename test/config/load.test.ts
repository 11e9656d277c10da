/**
 * Configuration: <dataDir>/config.toml, overridden by CAIRN_* environment
 * variables, overridden by flags. Unknown keys anywhere are an error that names
 * the key; wrong types are errors; the result is frozen.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { loadConfig } from '../../src/config/load.js'
import { DEFAULTS } from '../../src/config/schema.js'
import { CairnError } from '../../src/util/errors.js'
import { ROOT, stopAll, tempDir } from '../helpers/cli.js'

after(stopAll)

function dirWith (toml: string | undefined): string {
  const d = tempDir()
  if (toml !== undefined) writeFileSync(join(d, 'config.toml'), toml)
  return d
}

/** Expect a CONFIG error; `names` must appear in the message so the user knows which key. */
function configError (fn: () => unknown, ...names: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CairnError, `expected CairnError, got ${String(e)}`)
    assert.equal(e.code, 'CONFIG')
    for (const n of names) assert.ok(e.message.includes(n), `the error does not name ${n}: ${e.message}`)
    return true
  })
}

test('no file, no env, no flags: the embedded defaults', () => {
  const d = dirWith(undefined)
  const c = loadConfig(d, { env: {} })
  assert.equal(c.api.host, '127.0.0.1')
  assert.equal(c.api.port, 9473)
  assert.deepEqual(c.network.listen, ['/ip4/0.0.0.0/tcp/9474'])
  assert.equal(c.dataDir, d)
})

test('values from config.toml are applied', () => {
  const d = dirWith('[api]\nport = 5555\n[log]\nlevel = "debug"\n[network]\nbootstrap = ["/ip4/127.0.0.1/tcp/1"]\n')
  const c = loadConfig(d, { env: {} })
  assert.equal(c.api.port, 5555)
  assert.equal(c.log.level, 'debug')
  assert.deepEqual(c.network.bootstrap, ['/ip4/127.0.0.1/tcp/1'])
})

test('an unknown key in config.toml is an error naming the key', () => {
  configError(() => loadConfig(dirWith('[api]\nprot = 5555\n'), { env: {} }), 'prot')
  configError(() => loadConfig(dirWith('[network]\nlisten = []\nbootstrapp = []\n'), { env: {} }), 'bootstrapp')
})

test('an unknown section in config.toml is an error naming the section', () => {
  configError(() => loadConfig(dirWith('[server]\nport = 1\n'), { env: {} }), 'server')
  configError(() => loadConfig(dirWith('port = 1\n'), { env: {} }), 'port')
})

test('wrong types in config.toml are errors naming the key', () => {
  configError(() => loadConfig(dirWith('[api]\nport = "9473"\n'), { env: {} }), 'api.port')
  configError(() => loadConfig(dirWith('[api]\nport = -1\n'), { env: {} }), 'api.port')
  configError(() => loadConfig(dirWith('[api]\nport = 1.5\n'), { env: {} }), 'api.port')
  configError(() => loadConfig(dirWith('[node]\nkeeper = "yes"\n'), { env: {} }), 'node.keeper')
  configError(() => loadConfig(dirWith('[network]\nlisten = "/ip4/0.0.0.0/tcp/1"\n'), { env: {} }), 'network.listen')
  configError(() => loadConfig(dirWith('[network]\nlisten = [1, 2]\n'), { env: {} }), 'network.listen')
  configError(() => loadConfig(dirWith('[log]\nlevel = 3\n'), { env: {} }), 'log.level')
  configError(() => loadConfig(dirWith('api = 3\n'), { env: {} }), 'api')
})

test('invalid values are errors: non-loopback API host, bad log level, port above 65535, not a multiaddr, an unknown Ed25519', () => {
  configError(() => loadConfig(dirWith('[api]\nhost = "0.0.0.0"\n'), { env: {} }), 'api.host')
  configError(() => loadConfig(dirWith('[crypto]\ned25519 = "noble"\n'), { env: {} }), 'crypto.ed25519', 'libsodium or openssl')
  configError(() => loadConfig(dirWith(undefined), { env: { CAIRN_CRYPTO_ED25519: 'fast' } }), 'crypto.ed25519')
  assert.equal(loadConfig(dirWith(undefined), { env: { CAIRN_CRYPTO_ED25519: 'openssl' } }).crypto.ed25519, 'openssl')
  configError(() => loadConfig(dirWith('[log]\nlevel = "loud"\n'), { env: {} }), 'log.level')
  configError(() => loadConfig(dirWith('[api]\nport = 70000\n'), { env: {} }), 'api.port')
  configError(() => loadConfig(dirWith('[network]\nbootstrap = ["127.0.0.1:9474"]\n'), { env: {} }), '127.0.0.1:9474')
})

test('a file that is not TOML is a CONFIG error naming the file', () => {
  const d = dirWith('[api\nport = ')
  configError(() => loadConfig(d, { env: {} }), 'config.toml')
})

test('environment CAIRN_API_PORT overrides the file; flags override the environment', () => {
  const d = dirWith('[api]\nport = 5555\n')
  assert.equal(loadConfig(d, { env: { CAIRN_API_PORT: '6666' } }).api.port, 6666)
  assert.equal(loadConfig(d, { env: { CAIRN_API_PORT: '6666' }, flags: { api: { port: 7777 } } }).api.port, 7777)
  // an undefined flag (option not given) leaves the environment's value
  assert.equal(loadConfig(d, { env: { CAIRN_API_PORT: '6666' }, flags: { api: { port: undefined } } }).api.port, 6666)
})

test('environment values of every type are parsed: booleans, integers, lists', () => {
  const c = loadConfig(dirWith(undefined), {
    env: { CAIRN_NODE_KEEPER: 'true', CAIRN_NETWORK_BOOTSTRAP: '/ip4/1.2.3.4/tcp/1, /ip4/5.6.7.8/tcp/2', CAIRN_LIMITS_MAX_GROUPS: '12', CAIRN_NETWORK_DHT: 'false' }
  })
  assert.equal(c.node.keeper, true)
  assert.equal(c.network.dht, false)
  assert.deepEqual(c.network.bootstrap, ['/ip4/1.2.3.4/tcp/1', '/ip4/5.6.7.8/tcp/2'])
  assert.equal(c.limits.max_groups, 12)
})

test('an unknown CAIRN_* environment variable is an error naming it', () => {
  configError(() => loadConfig(dirWith(undefined), { env: { CAIRN_API_PROT: '1' } }), 'CAIRN_API_PROT')
  configError(() => loadConfig(dirWith(undefined), { env: { CAIRN_BOGUS: '1' } }), 'CAIRN_BOGUS')
  // variables that are not settings but known to cairn are fine, and others' variables are ignored
  loadConfig(dirWith(undefined), { env: { CAIRN_PASSPHRASE: 'x', CAIRN_DATA_DIR: '/tmp', CAIRN_LOG_FILE: '/tmp/x', HOME: '/root', NOT_CAIRN_API_PORT: 'x' } })
})

test('wrong types in the environment are errors naming the variable', () => {
  configError(() => loadConfig(dirWith(undefined), { env: { CAIRN_API_PORT: 'abc' } }), 'CAIRN_API_PORT')
  configError(() => loadConfig(dirWith(undefined), { env: { CAIRN_API_PORT: '-5' } }), 'CAIRN_API_PORT')
  configError(() => loadConfig(dirWith(undefined), { env: { CAIRN_NODE_KEEPER: 'yes' } }), 'CAIRN_NODE_KEEPER')
})

test('unknown or mistyped flags are errors too', () => {
  configError(() => loadConfig(dirWith(undefined), { env: {}, flags: { api: { prot: 1 } } as never }), 'prot')
  configError(() => loadConfig(dirWith(undefined), { env: {}, flags: { api: { port: Number('abc') } } }), 'api.port')
})

test('the loaded config is frozen', () => {
  const c = loadConfig(dirWith(undefined), { env: {} })
  assert.throws(() => { (c as { api: { port: number } }).api.port = 1 }, TypeError)
  assert.throws(() => { (c as { api: unknown }).api = {} }, TypeError)
})

const EXAMPLE = join(ROOT, 'config.example.toml')

test('config.example.toml parses and uses only known keys', { skip: !existsSync(EXAMPLE) && 'config.example.toml is not there yet' }, () => {
  loadConfig(tempDir(), { env: {}, file: EXAMPLE })
})

test('config.example.toml documents every key (active or commented out)', { skip: !existsSync(EXAMPLE) && 'config.example.toml is not there yet' }, () => {
  const text = readFileSync(EXAMPLE, 'utf8')
  // Uncomment every commented assignment and section header, then parse: the union must hold every key.
  const uncommented = text.split('\n').map(l => l.replace(/^\s*#\s?(?=\[|[a-z_]+\s*=)/, '')).join('\n')
  let doc: Record<string, Record<string, unknown>> | undefined
  try { doc = parseToml(uncommented) as typeof doc } catch { doc = undefined }
  for (const [section, keys] of Object.entries(DEFAULTS)) {
    for (const key of Object.keys(keys)) {
      const inDoc = doc?.[section] !== undefined && key in doc[section]!
      const mentioned = new RegExp(`^\\s*#?\\s*${key}\\s*=`, 'm').test(text) && text.includes(`[${section}]`)
      assert.ok(inDoc || mentioned, `config.example.toml does not document ${section}.${key}`)
    }
  }
})

test('config.toml is bounded: deep nesting and an oversized file are CONFIG errors, __proto__ is an unknown section', () => {
  configError(() => loadConfig(dirWith(`[api]\nport = ${'['.repeat(5000)}${']'.repeat(5000)}\n`), { env: {} }), 'config.toml')
  configError(() => loadConfig(dirWith(`[api]\nport = 1\n# ${'x'.repeat(2 * 1024 * 1024)}\n`), { env: {} }), 'config.toml')
  configError(() => loadConfig(dirWith('[__proto__]\ntoString = 1\n'), { env: {} }), '__proto__')
  configError(() => loadConfig(dirWith('[api]\nconstructor = 1\n'), { env: {} }), 'constructor')
})
