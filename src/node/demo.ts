/**
 * `cairn demo`: a throwaway network in one process — an agent node and two
 * keepers, real libp2p over 127.0.0.1 and real HTTP APIs on ephemeral ports —
 * that writes memory-like items, times their replication to the keepers, and
 * puts what a keeper holds (ciphertext) beside what the owner reads.
 *
 * The scenario talks to the nodes through their HTTP APIs, as a person or an
 * agent would. Only the keepers' `stored` events are read in-process, to time
 * replication without polling. Everything lives in one temp dir that close()
 * removes, whatever happened before (errors, Ctrl-C); the dir never holds a
 * plaintext item, like any data dir.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { GroupId } from '../crypto/ids.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { CairnClient } from '../client/client.js'
import type { SyncPeerReport } from '../api/backend.js'
import type { RawItem } from '../items/item-service.js'
import type { SearchHit } from '../search/search-index.js'
import { topicOf } from '../replication/push.js'
import { CairnError, isCairnError } from '../util/errors.js'
import { createLogger, silentLogger } from '../util/logger.js'
import { Daemon } from './daemon.js'
import { initNode } from './init.js'

export interface DemoNode {
  name: string, role: 'agent' | 'keeper', dataDir: string, daemon: Daemon, api: CairnClient,
  apiUrl: string, token: string, peerId: string, entityId: string | null, multiaddr: string
}

/** One memory an AI agent might keep; `group` says where it goes. */
interface Memory { group: 'personal' | 'shared', type: string, content: string, meta: Record<string, string> }

const MEMORIES: Memory[] = [
  { group: 'personal', type: 'preference', content: 'Dana prefers short answers: code first, explanation after, no emojis.', meta: { source: 'conversation' } },
  { group: 'personal', type: 'fact', content: 'Project Orion ships a release from the main branch every Tuesday at 14:00 UTC.', meta: { source: 'calendar' } },
  { group: 'shared', type: 'decision', content: 'Orion team decision: API tokens stay out of the repo and live in the team vault.', meta: { source: 'meeting 2024-05-14' } },
  { group: 'personal', type: 'task', content: 'Follow up on the flaky payments integration test: it times out on CI about one run in ten.', meta: { due: 'friday' } },
  { group: 'shared', type: 'note', content: 'Orion on-call rotation: Ana this week, then Kofi; escalate release blockers to Mei.', meta: { source: 'wiki' } },
  { group: 'personal', type: 'observation', content: 'The staging database runs Postgres 16; schema migrations go through sqitch before each release.', meta: { source: 'terminal session' } },
  { group: 'shared', type: 'summary', content: 'Retro summary: the last release slipped a day because the changelog was written by hand.', meta: { source: 'retro' } },
  { group: 'personal', type: 'preference', content: 'Dana reviews pull requests in the morning; batch review requests before 10:00 local time.', meta: { source: 'conversation' } }
]

/** The word the demo searches for: it appears in several memories. */
export const DEMO_QUERY = 'release'

export interface ReplicationTiming { ms: number, via: string }

export interface DemoItem {
  id: string, group: 'personal' | 'shared', groupId: string, type: string, content: string,
  writeMs: number, replication: Record<string, ReplicationTiming>
  keeperView: { keeper: string, keyVersion: number, size: number, paddedSize: number, ciphertext: string }
  ownerView: { type: string, content: string, author: string, keyVersion: number }
  plaintextInCiphertext: boolean
}

export type DemoEvent =
  | { kind: 'group', name: string, id: string, personal: boolean, deliveredMs: Record<string, number> }
  | { kind: 'write', index: number, total: number, item: Omit<DemoItem, 'keeperView' | 'ownerView' | 'plaintextInCiphertext'> }
  | { kind: 'compare', item: DemoItem, raw: RawItem }
  | { kind: 'refusal', keeper: string, status: number, code: string, message: string }
  | { kind: 'search', query: string, results: SearchHit[] }
  | { kind: 'sync', groupId: string, peers: SyncPeerReport[] }

export interface DemoSummary {
  dataDir: string
  nodes: Array<{ name: string, role: string, peerId: string, entityId: string | null, apiUrl: string, multiaddr: string }>
  groups: Array<{ name: string, id: string, personal: boolean, keepers: string[], deliveredMs: Record<string, number> }>
  items: DemoItem[]
  replication: { allStored: boolean, held: Record<string, number>, p50Ms: number, maxMs: number, via: Record<string, number> }
  keeperRefusal: { keeper: string, status: number, code: string, message: string }
  search: { query: string, results: SearchHit[] }
  sync: { groupId: string, peers: SyncPeerReport[] }
  durationMs: number
}

const PUSH_WAIT_MS = 5000
const SYNC_WAIT_MS = 10_000
const READY_WAIT_MS = 15_000
const TOPIC_WAIT_MS = 5000

/** The nodes, their temp dir, and a close() that always leaves nothing behind. */
export class DemoNetwork {
  readonly root: string
  readonly passphrase = randomBytes(18).toString('base64url')
  readonly nodes: DemoNode[] = []
  private closing: Promise<void> | undefined
  private readonly exitGuard = (): void => { rmSync(this.root, { recursive: true, force: true }) }

  constructor (private readonly o: { logs?: boolean } = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'cairn-demo-'))
    // Last resort if the process ends without close() (an uncaught error): no temp dir survives.
    process.once('exit', this.exitGuard)
  }

  get closed (): boolean { return this.closing !== undefined }
  get agent (): DemoNode { return this.node('agent') }
  get keepers (): DemoNode[] { return this.nodes.filter(n => n.role === 'keeper') }
  /** For --keep (`cairn unlock --passphrase-file`): the random passphrase in a 0600 file inside the temp dir. */
  savePassphrase (): string {
    const file = join(this.root, 'passphrase')
    writeFileSync(file, this.passphrase + '\n', { mode: 0o600 })
    return file
  }

  node (name: string): DemoNode {
    const n = this.nodes.find(x => x.name === name)
    if (n === undefined) throw new CairnError('INTERNAL', `the demo has no node ${name}`)
    return n
  }

  /** Two keepers first (the agent bootstraps to them); the agent's scrypt-heavy init runs meanwhile. */
  async start (): Promise<void> {
    const agentDir = join(this.root, 'agent')
    const agentInit = initNode({ dataDir: agentDir, keeper: false, passphrase: this.passphrase, env: {} })
    await Promise.all(['keeper1', 'keeper2'].map(async name => {
      const dataDir = join(this.root, name)
      await initNode({ dataDir, keeper: true, env: {} })
      await this.startNode(name, 'keeper', dataDir, [])
    }))
    await agentInit
    await this.startNode('agent', 'agent', agentDir, this.keepers.map(k => k.multiaddr))
  }

  private async startNode (name: string, role: 'agent' | 'keeper', dataDir: string, bootstrap: string[]): Promise<void> {
    if (this.closed) throw new CairnError('UNAVAILABLE', 'the demo was stopped')
    const keeper = role === 'keeper'
    const daemon = await Daemon.start({
      dataDir, env: {},
      log: this.o.logs === true ? createLogger('info', join(dataDir, 'cairn.log')) : silentLogger(),
      flags: { node: { keeper }, api: { port: 0 }, network: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } },
      ...(keeper ? {} : { passphrase: this.passphrase })
    })
    if (this.closed) { await daemon.stop(); throw new CairnError('UNAVAILABLE', 'the demo was stopped') }
    const st = daemon.status()
    const addr = st.listenAddrs.find(a => a.includes('/tcp/')) ?? ''
    const token = readFileSync(daemon.paths.apiToken, 'utf8').trim()
    const apiUrl = `http://${daemon.config.api.host}:${daemon.apiPort}`
    this.nodes.push({
      name, role, dataDir, daemon, apiUrl, token, peerId: st.peerId, entityId: st.entityId,
      multiaddr: addr.includes('/p2p/') ? addr : `${addr}/p2p/${st.peerId}`,
      api: new CairnClient({ dataDir, baseUrl: apiUrl, token, timeoutMs: 30_000 })
    })
  }

  /** Stop every node (agent first, so nothing is pushed at a stopped keeper) and delete the temp dir. */
  close (): Promise<void> {
    this.closing ??= (async () => {
      const order = [...this.nodes].sort((a, b) => (a.role === 'agent' ? 0 : 1) - (b.role === 'agent' ? 0 : 1))
      for (const n of order) await n.daemon.stop().catch(() => {})
      rmSync(this.root, { recursive: true, force: true })
      process.removeListener('exit', this.exitGuard)
    })()
    return this.closing
  }
}

/** Records the moment each keeper stores each item, so a write can wait for both without polling. */
class StoreWatch {
  private readonly seen = new Map<string, Map<string, ReplicationTiming & { at: number }>>()
  private readonly waiters = new Set<() => void>()
  private readonly offs: Array<() => void> = []

  constructor (keepers: DemoNode[]) {
    for (const k of keepers) {
      const m = new Map<string, ReplicationTiming & { at: number }>()
      this.seen.set(k.name, m)
      this.offs.push(k.daemon.services.events.on('stored', ({ record, origin }) => {
        if (record.rec.t !== 'item' || m.has(record.recordId)) return
        m.set(record.recordId, { at: performance.now(), ms: 0, via: origin })
        for (const w of this.waiters) w()
      }))
    }
  }

  missing (id: string): string[] { return [...this.seen].filter(([, m]) => !m.has(id)).map(([name]) => name) }

  async wait (id: string, ms: number): Promise<boolean> {
    if (this.missing(id).length === 0) return true
    return await new Promise<boolean>(resolve => {
      const done = (ok: boolean): void => { clearTimeout(t); this.waiters.delete(check); resolve(ok) }
      const check = (): void => { if (this.missing(id).length === 0) done(true) }
      const t = setTimeout(() => done(false), ms)
      this.waiters.add(check)
    })
  }

  timings (id: string, t0: number): Record<string, ReplicationTiming> {
    const out: Record<string, ReplicationTiming> = {}
    for (const [name, m] of this.seen) {
      const s = m.get(id)
      if (s !== undefined) out[name] = { ms: round(s.at - t0), via: s.via }
    }
    return out
  }

  close (): void { for (const f of this.offs) f() }
}

/** Poll a condition (for state that has no event worth wiring); a CairnError TIMEOUT names what never happened. */
async function until (what: string, fn: () => boolean, ms = READY_WAIT_MS): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new CairnError('TIMEOUT', `the demo waited ${ms / 1000} s for ${what}`)
    await new Promise(r => setTimeout(r, 5))
  }
}

const round = (x: number): number => Math.round(x * 100) / 100
const b64 = (s: string): Buffer => Buffer.from(s, 'base64')

/** Every raw envelope of a group on a node, all pages. */
async function rawAll (n: DemoNode, gid: string): Promise<RawItem[]> {
  const out: RawItem[] = []
  let cursor: string | null = null
  do {
    const page = await n.api.listRaw(gid, { limit: 1000, ...(cursor !== null ? { cursor } : {}) })
    out.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  return out
}

/** The scenario. `onEvent` sees each step as it happens (the CLI prints them); the summary comes at the end. */
export async function runDemo (net: DemoNetwork, o: { items: number, onEvent?: (e: DemoEvent) => void }): Promise<Omit<DemoSummary, 'durationMs'>> {
  const say = o.onEvent ?? (() => {})
  const agent = net.agent
  const keepers = net.keepers
  const pubsub = agent.daemon.network().libp2p.services.pubsub

  // Groups: the personal one from init, and a shared team group; both get both keepers.
  const personalId = agent.daemon.status().personalGroupId
  if (personalId === null) throw new CairnError('INTERNAL', 'the demo agent has no personal group')
  const shared = await agent.api.createGroup({ name: 'team orion', culture: 'chatty' })
  const groups: DemoSummary['groups'] = []
  // The API answers IDs as plain strings; these two are the node's own groups.
  for (const [name, id, personal] of [['personal', personalId, true], ['team orion', shared.id as GroupId, false]] as const) {
    const deliveredMs: Record<string, number> = {}
    for (const k of keepers) {
      const t0 = performance.now()
      await agent.api.addKeeper(id, { peerId: k.peerId, multiaddr: k.multiaddr })
      await until(`${k.name} to receive the descriptor of group ${id}`, () => k.daemon.services.registry.has(id))
      deliveredMs[k.name] = round(performance.now() - t0)
    }
    // Push needs the keepers on the group's gossipsub topic; anti-entropy would catch up anyway, but slowly.
    const topic = topicOf(id)
    await until(`the keepers to join group ${id}'s push topic`, () => {
      const subs = new Set(pubsub.getSubscribers(topic).map(String))
      return keepers.every(k => subs.has(k.peerId))
    }, TOPIC_WAIT_MS).catch(() => {})
    groups.push({ name, id, personal, keepers: keepers.map(k => k.peerId), deliveredMs })
    say({ kind: 'group', name, id, personal, deliveredMs })
  }
  const gidOf = (g: Memory['group']): string => g === 'personal' ? personalId : shared.id

  // Writes, one at a time, each timed until both keepers stored it.
  const watch = new StoreWatch(keepers)
  const written: Array<Omit<DemoItem, 'keeperView' | 'ownerView' | 'plaintextInCiphertext'>> = []
  try {
    for (let i = 0; i < o.items; i++) {
      const m = MEMORIES[i % MEMORIES.length]!
      const content = i < MEMORIES.length ? m.content : `${m.content} (#${i + 1})`
      const gid = gidOf(m.group)
      const t0 = performance.now()
      const w = await agent.api.createItem(gid, { type: m.type, content, meta: m.meta })
      const writeMs = round(performance.now() - t0)
      if (!await watch.wait(w.id, PUSH_WAIT_MS)) {
        // Push missed (a mesh still forming): anti-entropy is the safety net.
        await agent.api.syncGroup(gid).catch(() => {})
        if (!await watch.wait(w.id, SYNC_WAIT_MS)) throw new CairnError('TIMEOUT', `item ${w.id} never reached ${watch.missing(w.id).join(' and ')}`)
      }
      const item = { id: w.id, group: m.group, groupId: gid, type: m.type, content, writeMs, replication: watch.timings(w.id, t0) }
      written.push(item)
      say({ kind: 'write', index: i + 1, total: o.items, item })
    }
  } finally { watch.close() }

  // What each keeper holds, checked against what the owner reads.
  const rawBy = new Map<string, Map<string, RawItem>>()
  for (const k of keepers) {
    const m = new Map<string, RawItem>()
    for (const g of groups) for (const r of await rawAll(k, g.id)) m.set(r.id, r)
    rawBy.set(k.name, m)
  }
  const items: DemoItem[] = []
  for (const w of written) {
    const owner = await agent.api.getItem(w.id)
    let leaked = false
    let view: DemoItem['keeperView'] | undefined
    for (const k of keepers) {
      const r = rawBy.get(k.name)!.get(w.id)
      if (r === undefined) continue
      if (b64(r.ciphertext).includes(Buffer.from(w.content))) leaked = true
      view ??= { keeper: k.name, keyVersion: r.keyVersion, size: r.size, paddedSize: Math.max(0, b64(r.ciphertext).length - 16), ciphertext: r.ciphertext }
    }
    if (view === undefined) throw new CairnError('INTEGRITY', `no keeper lists item ${w.id} in its raw listing`)
    items.push({ ...w, keeperView: view, ownerView: { type: owner.type, content: String(owner.content), author: owner.author, keyVersion: owner.keyVersion }, plaintextInCiphertext: leaked })
  }
  const held = Object.fromEntries(keepers.map(k => [k.name, written.filter(w => rawBy.get(k.name)!.has(w.id)).length]))
  const first = items[0]!
  say({ kind: 'compare', item: first, raw: rawBy.get(first.keeperView.keeper)!.get(first.id)! })

  // A keeper asked for plaintext: it has no key, and says so.
  const k1 = keepers[0]!
  let keeperRefusal: DemoSummary['keeperRefusal']
  try {
    await k1.api.getItem(first.id)
    throw new CairnError('INTEGRITY', `${k1.name} answered a decrypted read: a keeper must not hold keys`)
  } catch (e) {
    if (!isCairnError(e) || e.code === 'INTEGRITY') throw e
    keeperRefusal = { keeper: k1.name, status: Number(e.details?.status ?? 0), code: e.code, message: e.message }
  }
  say({ kind: 'refusal', ...keeperRefusal })

  const search = { query: DEMO_QUERY, results: (await agent.api.search(DEMO_QUERY, { limit: 5 })).results }
  say({ kind: 'search', ...search })

  const sync = { groupId: personalId, peers: (await agent.api.syncGroup(personalId)).peers }
  say({ kind: 'sync', ...sync })

  const lat = written.flatMap(w => Object.values(w.replication).map(r => r.ms)).sort((a, b) => a - b)
  const via: Record<string, number> = {}
  for (const w of written) for (const r of Object.values(w.replication)) via[r.via] = (via[r.via] ?? 0) + 1
  return {
    dataDir: net.root,
    nodes: [...net.nodes].sort((a, b) => a.name.localeCompare(b.name)).map(n => ({ name: n.name, role: n.role, peerId: n.peerId, entityId: n.entityId, apiUrl: n.apiUrl, multiaddr: n.multiaddr })),
    groups,
    items,
    replication: {
      allStored: Object.values(held).every(n => n === written.length),
      held,
      p50Ms: lat[Math.floor((lat.length - 1) / 2)] ?? 0,
      maxMs: lat[lat.length - 1] ?? 0,
      via
    },
    keeperRefusal,
    search,
    sync
  }
}
