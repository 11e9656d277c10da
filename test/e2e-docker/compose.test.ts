/**
 * e2e-docker/ cannot run here (no Docker engine), so it is checked statically
 * against the real CLI and configuration: a renamed verb or flag, a config key
 * that no longer exists, a keeper started without --keeper or a volume that
 * does not line up fails here instead of on the first machine that runs Docker.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command, Option } from 'commander'
import { parse as parseYaml } from 'yaml'
import { buildProgram } from '../../src/cli/main.js'
import { DEFAULTS } from '../../src/config/schema.js'
import { loadConfig, SPECIAL_ENV } from '../../src/config/load.js'
import { cairnArgs, cairnCalls, shellCommands } from './shell.js'

const ROOT = resolve(import.meta.dirname, '../..')
const DIR = join(ROOT, 'e2e-docker')
const read = (f: string): string => readFileSync(join(DIR, f), 'utf8')

interface Service {
  command?: string[] | string, environment?: Record<string, string | number | boolean | null> | string[], volumes?: string[]
  healthcheck?: { test?: string[] | string }, expose?: Array<string | number>, ports?: unknown[], secrets?: string[]
  depends_on?: Record<string, { condition?: string }> | string[], hostname?: string, networks?: string[] | Record<string, unknown>
  build?: { context?: string, dockerfile?: string }
}
interface Compose { services: Record<string, Service>, volumes?: Record<string, unknown>, networks?: Record<string, { internal?: boolean } | null>, secrets?: Record<string, { file?: string }> }

const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as Compose
const svc = (name: string): Service => { const s = compose.services[name]; assert.ok(s !== undefined, `service ${name}`); return s }
const words = (v: string[] | string | undefined): string[] => v === undefined ? [] : Array.isArray(v) ? v.map(String) : (shellCommands(v)[0] ?? [])
const envOf = (s: Service): Record<string, string> => Array.isArray(s.environment)
  ? Object.fromEntries(s.environment.map(e => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
  : Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]))

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile (): Array<{ op: string, args: string }> {
  return read('Dockerfile').replace(/\\\n/g, ' ').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
    .map(l => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.split(/\s+/)[0]!.length).trim() }))
}
const execForm = (args: string): string[] => JSON.parse(args) as string[]

// ---- the CLI, as commander sees it ----

const program = buildProgram()

function findOption (cmd: Command, flag: string): Option | undefined {
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const o = c.options.find(x => x.long === flag || x.short === flag)
    if (o !== undefined) return o
  }
  return undefined
}

/** What is wrong with `cairn <args>` (nothing: an empty list). */
function checkInvocation (args: string[]): string[] {
  const problems: string[] = []
  let cmd: Command = program
  const path = (): string => { const p: string[] = []; for (let c: Command | null = cmd; c !== null && c.parent !== null; c = c.parent) p.unshift(c.name()); return p.join(' ') }
  const positionals: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') { positionals.push(...args.slice(i + 1)); break }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      const [flag, inline] = a.startsWith('--') ? [a.split('=')[0]!, a.includes('=') ? a.slice(a.indexOf('=') + 1) : undefined] : [a.slice(0, 2), a.length > 2 ? a.slice(2) : undefined]
      if (flag === '--help' || flag === '-h') continue
      const o = findOption(cmd, flag)
      if (o === undefined) { problems.push(`unknown option ${flag} for \`cairn ${path()}\``); continue }
      if ((o.required || o.optional) && inline === undefined) {
        if (i + 1 >= args.length && o.required) problems.push(`option ${flag} of \`cairn ${path()}\` needs a value`)
        i++
      }
      continue
    }
    const sub = positionals.length === 0 ? cmd.commands.find(c => c.name() === a || c.aliases().includes(a)) : undefined
    if (sub !== undefined) { cmd = sub; continue }
    if (cmd === program || (positionals.length === 0 && cmd.commands.length > 0 && cmd.registeredArguments.length === 0)) {
      problems.push(`unknown command \`cairn ${[path(), a].filter(Boolean).join(' ')}\``)
      return problems
    }
    positionals.push(a)
  }
  if (cmd === program) return problems.length > 0 ? problems : ['no command given']
  const declared = cmd.registeredArguments
  const min = declared.filter(x => x.required).length
  const max = declared.some(x => x.variadic) ? Infinity : declared.length
  if (positionals.length < min || positionals.length > max) problems.push(`\`cairn ${path()}\` takes ${min === max ? min : `${min}–${max}`} argument(s), got ${positionals.length}: ${positionals.join(' ')}`)
  return problems
}

// ---- every cairn invocation, wherever it is written ----

function allInvocations (): Array<{ where: string, args: string[] }> {
  const out: Array<{ where: string, args: string[] }> = []
  for (const [name, s] of Object.entries(compose.services)) {
    const c = cairnArgs(words(s.command))
    if (c !== undefined) out.push({ where: `compose ${name}.command`, args: c })
    const hc = words(s.healthcheck?.test).filter(w => w !== 'CMD' && w !== 'CMD-SHELL')
    const h = cairnArgs(hc)
    if (h !== undefined) out.push({ where: `compose ${name}.healthcheck`, args: h })
  }
  for (const ins of dockerfile().filter(d => d.op === 'CMD')) {
    const c = cairnArgs(execForm(ins.args))
    if (c !== undefined) out.push({ where: 'Dockerfile CMD', args: c })
  }
  for (const f of ['entrypoint.sh', 'converge.sh']) for (const args of cairnCalls(read(f))) out.push({ where: f, args })
  for (const block of read('README.md').matchAll(/```(?:sh|bash|console)\n([\s\S]*?)```/g)) {
    for (const args of cairnCalls(block[1]!)) out.push({ where: 'README.md', args })
  }
  return out
}

test('the shell reader finds cairn calls in substitutions, pipes and xargs, and nothing in tests or quoted text', () => {
  const src = [
    'if [ "${1:-}" != cairn ]; then exec "$@"; fi',
    'echo "run cairn demo first" >&2   # cairn nothing',
    'X=$(dc exec -T agent cairn --json status 2>/dev/null | field id)',
    'seq 1 3 | docker compose -f x.yml exec -T agent xargs -P 4 -I \'{}\' cairn put "n {}"',
    'cat <<EOF', 'cairn not-a-call', 'EOF',
    'exec /app/bin/cairn start --keeper'
  ].join('\n')
  assert.deepEqual(cairnCalls(src), [['--json', 'status'], ['put', 'n {}'], ['start', '--keeper']])
  assert.deepEqual(checkInvocation(['--json', 'group', 'add-keeper', 'g', 'p', '--multiaddr', 'm']), [])
  assert.equal(checkInvocation(['start', '--keepr']).length, 1)
  assert.equal(checkInvocation(['group', 'add-keeper', 'g']).length, 1)
  assert.equal(checkInvocation(['statuz']).length, 1)
})

test('every cairn invocation in the compose file, Dockerfile, scripts and README uses real verbs, flags and arities', () => {
  const calls = allInvocations()
  const count = (where: string): number => calls.filter(c => c.where.startsWith(where)).length
  // Guard against the reader silently finding nothing.
  assert.ok(count('compose') >= 6, `compose: ${count('compose')} invocations`)
  assert.ok(count('entrypoint.sh') >= 2 && count('converge.sh') >= 8 && count('README.md') >= 3 && count('Dockerfile') === 1, JSON.stringify(calls.map(c => c.where)))
  const problems = calls.flatMap(c => checkInvocation(c.args).map(p => `${c.where}: cairn ${c.args.join(' ')}: ${p}`))
  assert.deepEqual(problems, [])
})

test('every CAIRN_* variable is a real setting (with a value the loader accepts) or a documented special variable', () => {
  const settings = new Set(Object.entries(DEFAULTS).flatMap(([s, keys]) => Object.keys(keys).map(k => `CAIRN_${s}_${k}`.toUpperCase())))
  const known = (v: string): boolean => settings.has(v) || SPECIAL_ENV.has(v)
  const texts = ['docker-compose.yml', 'Dockerfile', 'entrypoint.sh', 'converge.sh', 'README.md'].map(f => [f, read(f)] as const)
  const unknown = texts.flatMap(([f, t]) => [...t.matchAll(/\bCAIRN_[A-Z0-9_]+\b/g)].map(m => m[0]).filter(v => !known(v)).map(v => `${f}: ${v}`))
  assert.deepEqual(unknown, [])
  const dir = mkdtempSync(join(tmpdir(), 'cairn-compose-'))
  try {
    for (const [name, s] of Object.entries(compose.services)) {
      const env = envOf(s)
      for (const k of Object.keys(env).filter(k => k.startsWith('CAIRN_'))) assert.ok(known(k), `${name}: ${k}`)
      assert.doesNotThrow(() => loadConfig(dir, { env }), `${name}'s environment loads as cairn config`)
    }
  } finally { rmSync(dir, { recursive: true, force: true }) }
})

test('services: agent and two keepers, started the way their role needs, wired to each other', () => {
  assert.deepEqual(Object.keys(compose.services).sort(), ['agent', 'keeper1', 'keeper2'])
  const keepers = ['keeper1', 'keeper2']
  const dataDir = envOf(svc('agent')).CAIRN_DATA_DIR
  const image = dockerfile()
  const volumeIns = image.filter(d => d.op === 'VOLUME').flatMap(d => execForm(d.args))
  const exposed = image.filter(d => d.op === 'EXPOSE').flatMap(d => d.args.split(/\s+/))
  assert.ok(dataDir !== undefined && volumeIns.includes(dataDir), `the data dir ${dataDir} is a VOLUME of the image`)
  assert.ok(image.some(d => d.op === 'ENV' && d.args.includes(`CAIRN_DATA_DIR=${dataDir}`)), 'the image sets the same CAIRN_DATA_DIR')

  const dataVolumes = new Set<string>()
  for (const [name, s] of Object.entries(compose.services)) {
    const args = cairnArgs(words(s.command))
    assert.ok(args !== undefined && args[0] === 'start', `${name} runs \`cairn start\``)
    assert.equal(args.includes('--keeper'), keepers.includes(name), `${name}: --keeper ${keepers.includes(name) ? 'present' : 'absent'}`)
    const listen = args[args.indexOf('--listen') + 1] ?? ''
    assert.match(listen, /^\/ip4\/0\.0\.0\.0\/tcp\/\d+$/, `${name} listens on all interfaces`)
    const port = /tcp\/(\d+)/.exec(listen)![1]!
    assert.deepEqual((s.expose ?? []).map(String), [port], `${name} exposes its libp2p port ${port}`)
    assert.ok(exposed.includes(port), `the image exposes ${port}`)
    assert.equal(s.ports, undefined, `${name} publishes no port: the API stays inside`)
    assert.equal(envOf(s).CAIRN_API_HOST, undefined, `${name} keeps the API on its loopback default`)
    assert.equal(s.hostname, name, `${name}'s hostname is its service name (keepers publish /dns4/<hostname>)`)
    assert.equal(envOf(s).CAIRN_DATA_DIR, dataDir)
    // Volumes: named, declared, and a data volume of its own at the data dir.
    const mounts = (s.volumes ?? []).map(v => { const [src, dst, mode] = v.split(':'); return { src: src!, dst: dst!, mode } })
    for (const m of mounts) assert.ok(compose.volumes?.[m.src] !== undefined, `${name}: volume ${m.src} is declared`)
    const data = mounts.find(m => m.dst === dataDir)
    assert.ok(data !== undefined && data.mode === undefined, `${name} mounts a writable volume at ${dataDir}`)
    assert.ok(!dataVolumes.has(data.src), `${name}'s data volume ${data.src} is its own`)
    dataVolumes.add(data.src)
    const addrs = mounts.find(m => m.dst === '/addrs')
    assert.ok(addrs !== undefined, `${name} mounts the shared /addrs volume`)
    assert.equal(addrs.mode, keepers.includes(name) ? undefined : 'ro', `${name}: /addrs ${keepers.includes(name) ? 'writable' : 'read-only'}`)
    // Networks: all on the declared, internal network.
    const nets = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {})
    assert.deepEqual(nets, ['cairn'])
    assert.ok(words(s.healthcheck?.test).includes('cairn'), `${name} has a cairn health check`)
  }
  assert.equal(compose.networks?.cairn?.internal, true)

  // The agent: passphrase from a secret, bootstraps to exactly the keepers, starts after they are healthy.
  const agent = svc('agent')
  const args = cairnArgs(words(agent.command))!
  const secret = agent.secrets?.[0]
  assert.ok(secret !== undefined && compose.secrets?.[secret]?.file !== undefined, 'the agent has a declared file secret')
  assert.equal(args[args.indexOf('--passphrase-file') + 1], `/run/secrets/${secret}`)
  assert.ok(!/passphrase/i.test(JSON.stringify(envOf(agent))), 'no passphrase in the environment')
  assert.match(read('.gitignore'), new RegExp(`^${compose.secrets![secret]!.file!.replace(/^\.\//, '').split('/')[0]}/`, 'm'), 'the secret\'s directory is git-ignored')
  assert.deepEqual(String(envOf(agent).BOOTSTRAP_PEERS).split(/\s+/).sort(), keepers)
  for (const k of keepers) assert.equal((agent.depends_on as Record<string, { condition?: string }>)[k]?.condition, 'service_healthy')
  assert.match(read('entrypoint.sh'), /CAIRN_NETWORK_BOOTSTRAP=/, 'the entrypoint hands the keepers to cairn as network.bootstrap')
})

test('Dockerfile: node 20 slim, build tools, npm ci, non-root, and an entrypoint file that exists', () => {
  const ins = dockerfile()
  const froms = ins.filter(d => d.op === 'FROM').map(d => d.args.split(/\s+/)[0])
  assert.ok(froms.length > 0 && froms.every(f => f === 'node:20-bookworm-slim'), froms.join(', '))
  const runs = ins.filter(d => d.op === 'RUN').map(d => d.args).join('\n')
  for (const tool of ['python3', 'make', 'g++']) assert.ok(runs.includes(tool), `installs ${tool}`)
  assert.match(runs, /npm ci\b/)
  const users = ins.filter(d => d.op === 'USER').map(d => d.args)
  assert.ok(users.length > 0 && !['root', '0'].includes(users[users.length - 1]!.split(':')[0]!), `runs as ${users.join(', ') || 'root'}`)

  const copies = ins.filter(d => d.op === 'COPY' && !d.args.startsWith('--from')).map(d => d.args.split(/\s+/))
  const entry = execForm(ins.filter(d => d.op === 'ENTRYPOINT').at(-1)!.args)[0]!
  const source = copies.find(c => c[c.length - 1] === entry)?.[0]
  assert.ok(source !== undefined, `the entrypoint ${entry} is copied in`)
  assert.ok(existsSync(join(ROOT, source)), `${source} exists`)
  assert.doesNotThrow(() => accessSync(join(ROOT, source), constants.X_OK), `${source} is executable`)
  assert.match(readFileSync(join(ROOT, source), 'utf8'), /^#!\/bin\/sh\n/, 'the entrypoint is a POSIX sh script (the slim image has no bash)')

  // The build context is the repo root; everything COPY names exists and passes the ignore file.
  const build = svc('agent').build!
  assert.equal(resolve(DIR, build.context!), ROOT)
  assert.equal(resolve(ROOT, build.dockerfile!), join(DIR, 'Dockerfile'))
  const allowed = read('Dockerfile.dockerignore').split('\n').filter(l => l.startsWith('!')).map(l => l.slice(1).replace(/\/$/, ''))
  for (const c of copies) {
    for (const src of c.slice(0, -1).filter(x => !x.startsWith('--'))) {
      assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`)
      assert.ok(allowed.some(a => src.replace(/\/$/, '') === a || src.startsWith(a + '/')), `COPY source ${src} is let through by Dockerfile.dockerignore`)
    }
  }
})

test('scripts: executable, with a shebang, and syntactically valid (shellcheck too, where installed)', (t) => {
  for (const [f, shell] of [['entrypoint.sh', 'sh'], ['converge.sh', 'bash']] as const) {
    const p = join(DIR, f)
    assert.doesNotThrow(() => accessSync(p, constants.X_OK), `${f} is executable`)
    assert.match(read(f), /^#!/)
    const r = spawnSync(shell, ['-n', p], { encoding: 'utf8' })
    assert.equal(r.status, 0, `${shell} -n ${f}: ${r.stderr}`)
  }
  const sc = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' })
  if (sc.status !== 0) { t.diagnostic('shellcheck not installed: skipped'); return }
  for (const [f, shell] of [['entrypoint.sh', 'sh'], ['converge.sh', 'bash']] as const) {
    const r = spawnSync('shellcheck', ['-S', 'warning', '-s', shell, join(DIR, f)], { encoding: 'utf8' })
    assert.equal(r.status, 0, `shellcheck ${f}:\n${r.stdout}`)
  }
})

test('docker compose config -q accepts the file (where the compose plugin is installed)', (t) => {
  const v = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' })
  if (v.error !== undefined || v.status !== 0) { t.skip('docker compose is not installed here'); return }
  const r = spawnSync('docker', ['compose', '-f', join(DIR, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', cwd: DIR })
  assert.equal(r.status, 0, r.stderr)
})
