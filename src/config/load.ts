/**
 * <dataDir>/config.toml, then CAIRN_<SECTION>_<KEY> environment variables, then
 * flags → one validated, frozen Config. Every key must exist in DEFAULTS with
 * the same type; anything else is a CONFIG error naming the key and its source.
 */
import { readFileSync, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { CairnError } from '../util/errors.js'
import { DEFAULTS, type Config } from './schema.js'

export type Overrides = { [S in keyof typeof DEFAULTS]?: { [K in keyof typeof DEFAULTS[S]]?: unknown } }

/** Environment variables that are not config keys. */
// Not settings: read elsewhere (the passphrase, paths), or by the test and bench scripts (scripts/machine-slot.mjs), whose children inherit them.
export const SPECIAL_ENV = new Set(['CAIRN_PASSPHRASE', 'CAIRN_DATA_DIR', 'CAIRN_CONFIG', 'CAIRN_LOG_FILE', 'CAIRN_MACHINE_SLOT', 'CAIRN_MACHINE_SLOTS'])

/** Bounds on the file: the real one is ~3 KB and two levels deep. */
const MAX_CONFIG_BYTES = 1024 * 1024
const MAX_CONFIG_DEPTH = 8

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost']

export function loadConfig (dataDir: string, opts: { env?: NodeJS.ProcessEnv, flags?: Overrides, file?: string } = {}): Config {
  const cfg = structuredClone(DEFAULTS) as unknown as Record<string, Record<string, unknown>>
  const env = opts.env ?? process.env
  const file = opts.file ?? env.CAIRN_CONFIG ?? join(dataDir, 'config.toml')
  if (opts.file === undefined && env.CAIRN_CONFIG !== undefined && !existsSync(file)) throw new CairnError('CONFIG', `CAIRN_CONFIG points to ${file}, which does not exist`)
  if (existsSync(file)) {
    let parsed: Record<string, unknown>
    const size = statSync(file).size
    if (size > MAX_CONFIG_BYTES) throw new CairnError('CONFIG', `${file} is ${size} bytes; a config file is at most ${MAX_CONFIG_BYTES} (is it the right file?)`)
    try {
      parsed = parseToml(readFileSync(file, 'utf8'), { maxDepth: MAX_CONFIG_DEPTH }) as Record<string, unknown>
    } catch (e) {
      throw new CairnError('CONFIG', `${file}: not valid TOML: ${(e as Error).message.split('\n')[0]}`)
    }
    apply(cfg, parsed, file)
  }
  applyEnv(cfg, env)
  if (opts.flags !== undefined) apply(cfg, opts.flags as Record<string, unknown>, 'command-line flags', true)
  validate(cfg)
  const out = { ...cfg, dataDir } as unknown as Config
  for (const v of Object.values(out)) if (typeof v === 'object') Object.freeze(v)
  return Object.freeze(out)
}

function apply (cfg: Record<string, Record<string, unknown>>, src: Record<string, unknown>, where: string, skipUndefined = false): void {
  for (const [section, values] of Object.entries(src)) {
    const target = Object.hasOwn(cfg, section) ? cfg[section] : undefined
    if (target === undefined) throw new CairnError('CONFIG', `${where}: unknown section [${section}] (known: ${Object.keys(DEFAULTS).join(', ')})`)
    if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new CairnError('CONFIG', `${where}: [${section}] must be a table`)
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (skipUndefined && value === undefined) continue
      if (!Object.hasOwn(target, key)) throw new CairnError('CONFIG', `${where}: unknown key ${section}.${key} (known: ${Object.keys(target).join(', ')})`)
      target[key] = coerce(section, key, target[key], value, where)
    }
  }
}

function coerce (section: string, key: string, def: unknown, value: unknown, where: string): unknown {
  const bad = (want: string): CairnError => new CairnError('CONFIG', `${where}: ${section}.${key} must be ${want}, got ${JSON.stringify(value)}`)
  if (typeof def === 'boolean') {
    if (typeof value === 'boolean') return value
    throw bad('true or false')
  }
  if (typeof def === 'number') {
    const n = typeof value === 'bigint' ? Number(value) : value
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n
    throw bad('a non-negative integer')
  }
  if (typeof def === 'string') {
    if (typeof value === 'string') return value
    throw bad('a string')
  }
  if (Array.isArray(def)) {
    if (Array.isArray(value) && value.every(v => typeof v === 'string')) return [...value]
    throw bad('a list of strings')
  }
  throw bad('a supported value')
}

function applyEnv (cfg: Record<string, Record<string, unknown>>, env: NodeJS.ProcessEnv): void {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('CAIRN_') || SPECIAL_ENV.has(name) || raw === undefined) continue
    const rest = name.slice('CAIRN_'.length).toLowerCase()
    const section = Object.keys(DEFAULTS).find(s => rest.startsWith(s + '_'))
    const key = section !== undefined ? rest.slice(section.length + 1) : undefined
    const target = section !== undefined ? cfg[section] : undefined
    if (target === undefined || key === undefined || !Object.hasOwn(target, key)) {
      throw new CairnError('CONFIG', `environment: ${name} is not a cairn setting (settings are CAIRN_<SECTION>_<KEY>, e.g. CAIRN_API_PORT; see config.example.toml)`)
    }
    const def = target[key]
    let value: unknown = raw
    if (typeof def === 'boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw
    else if (typeof def === 'number') value = /^\d+$/.test(raw) ? Number(raw) : raw
    else if (Array.isArray(def)) value = raw.trim() === '' ? [] : raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
    target[key] = coerce(section!, key, def, value, `environment ${name}`)
  }
}

function validate (cfg: Record<string, Record<string, unknown>>): void {
  const c = cfg as unknown as Config
  if (!LOOPBACK_HOSTS.includes(c.api.host)) throw new CairnError('CONFIG', `api.host must be a loopback address (${LOOPBACK_HOSTS.join(', ')}): the API is for this machine only`)
  if (c.api.port > 65535) throw new CairnError('CONFIG', 'api.port must be at most 65535')
  if (!LOG_LEVELS.includes(c.log.level)) throw new CairnError('CONFIG', `log.level must be one of ${LOG_LEVELS.join(', ')}`)
  if (!['auto', 'manual'].includes(c.circles.approval)) throw new CairnError('CONFIG', 'circles.approval must be auto or manual')
  if (!['libsodium', 'openssl'].includes(c.crypto.ed25519)) throw new CairnError('CONFIG', 'crypto.ed25519 must be libsodium or openssl')
  if (c.api.max_body_bytes < 1024) throw new CairnError('CONFIG', 'api.max_body_bytes must be at least 1024')
  if (c.replication.max_record_bytes < 4096) throw new CairnError('CONFIG', 'replication.max_record_bytes must be at least 4096')
  for (const a of [...c.network.listen, ...c.network.announce, ...c.network.bootstrap]) {
    if (!a.startsWith('/')) throw new CairnError('CONFIG', `network: ${a} is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/9474)`)
  }
}
