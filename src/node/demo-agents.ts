/**
 * `cairn demo --agents`: memory shared between AI agents on different nodes.
 * Three throwaway nodes in this process (real libp2p over 127.0.0.1, real
 * HTTP APIs, real SQLite files in one temp dir) — alice and bob, members of
 * the shared group "project atlas", and carol, connected to alice but
 * outside the group — and one agent per node, each talking to its own node
 * through its own `cairn mcp` process with the MCP SDK's Client over stdio,
 * as Claude Desktop or Cursor would. Alice's agent remembers; bob's agent
 * recalls it moments later; carol's agent finds nothing, and cannot read it
 * by ID either. close() stops everything and deletes the temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { GroupId } from '../crypto/ids.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { CairnClient } from '../client/client.js'
import { connectMcp, type McpSession } from '../mcp/connect.js'
import { topicOf } from '../replication/push.js'
import { CairnError, isCairnError } from '../util/errors.js'
import { silentLogger } from '../util/logger.js'
import { Daemon } from './daemon.js'
import { initNode } from './init.js'

export interface AgentNode {
  name: string, inGroup: boolean, dataDir: string, daemon: Daemon, api: CairnClient,
  peerId: string, entityId: string, multiaddr: string, agent?: McpSession
}

export interface RecallHit { id: string, groupId: string, snippet: string, score: number }

export type AgentsDemoEvent =
  | { kind: 'group', name: string, groupId: string, members: string[], adoptedMs: number }
  | { kind: 'agents', agents: Array<{ agent: string, node: string, tools: string[] }> }
  | { kind: 'remember', agent: string, content: string, id: string, groupId: string, ms: number }
  | { kind: 'recall', agent: string, query: string, results: RecallHit[], afterMs: number, nudged: boolean }
  | { kind: 'outsider', agent: string, query: string, results: RecallHit[], getMemory: { code: string, message: string } }

export interface AgentsDemoSummary {
  dataDir: string
  nodes: Array<{ name: string, inGroup: boolean, peerId: string, entityId: string, multiaddr: string }>
  group: { name: string, id: string, members: string[] }
  exchanges: Array<{ from: string, to: string, id: string, query: string, found: boolean, afterMs: number, nudged: boolean }>
  outsider: { agent: string, queries: Array<{ query: string, results: number }>, getMemory: { code: string } }
  durationMs?: number
}

const GROUP = 'project atlas'
const FIND_WAIT_MS = 20_000
/** After this long without the memory, anti-entropy is run on the writer (push missed a forming mesh). */
const NUDGE_AFTER_MS = 5000

export class AgentsNetwork {
  readonly root = mkdtempSync(join(tmpdir(), 'cairn-demo-agents-'))
  readonly passphrase = randomBytes(18).toString('base64url')
  readonly nodes: AgentNode[] = []
  private closing: Promise<void> | undefined
  private readonly exitGuard = (): void => { rmSync(this.root, { recursive: true, force: true }) }

  constructor () { process.once('exit', this.exitGuard) }

  get closed (): boolean { return this.closing !== undefined }
  node (name: string): AgentNode {
    const n = this.nodes.find(x => x.name === name)
    if (n === undefined) throw new CairnError('INTERNAL', `the demo has no node ${name}`)
    return n
  }

  /** alice, bob and carol; alice dials the other two (carol is a peer, not a member). */
  async start (): Promise<void> {
    const specs = [['alice', true], ['bob', true], ['carol', false]] as const
    await Promise.all(specs.map(async ([name, inGroup]) => {
      const dataDir = join(this.root, name)
      await initNode({ dataDir, keeper: false, passphrase: this.passphrase, env: {} })
      if (this.closed) throw new CairnError('UNAVAILABLE', 'the demo was stopped')
      const daemon = await Daemon.start({ dataDir, env: {}, log: silentLogger(), passphrase: this.passphrase, flags: { api: { port: 0 }, network: { listen: ['/ip4/127.0.0.1/tcp/0'] } } })
      const st = daemon.status()
      const tcp = st.listenAddrs.find(a => a.includes('/tcp/')) ?? ''
      this.nodes.push({
        name, inGroup, dataDir, daemon, peerId: st.peerId, entityId: st.entityId ?? '',
        multiaddr: tcp.includes('/p2p/') ? tcp : `${tcp}/p2p/${st.peerId}`,
        api: new CairnClient({ dataDir, timeoutMs: 30_000 })
      })
    }))
    if (this.closed) throw new CairnError('UNAVAILABLE', 'the demo was stopped')
    this.nodes.sort((a, b) => a.name.localeCompare(b.name))
    const alice = this.node('alice')
    for (const other of ['bob', 'carol']) await alice.api.dialPeer(this.node(other).multiaddr)
  }

  /** One `cairn mcp` per node, each driven by the SDK's Client over stdio. */
  async connectAgents (): Promise<void> {
    await Promise.all(this.nodes.map(async n => { n.agent = await connectMcp({ dataDir: n.dataDir, name: `${n.name}'s agent` }) }))
  }

  close (): Promise<void> {
    this.closing ??= (async () => {
      for (const n of this.nodes) await n.agent?.close().catch(() => {})
      for (const n of this.nodes) await n.daemon.stop().catch(() => {})
      rmSync(this.root, { recursive: true, force: true })
      process.removeListener('exit', this.exitGuard)
    })()
    return this.closing
  }
}

async function until<T> (what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new CairnError('TIMEOUT', `the demo waited ${ms / 1000} s for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const agentOf = (n: AgentNode): McpSession => {
  if (n.agent === undefined) throw new CairnError('INTERNAL', `${n.name} has no agent connected`)
  return n.agent
}

/** `to`'s agent recalls `query` until `id` shows up; returns how long after `t0` it did. */
async function recallUntilFound (from: AgentNode, to: AgentNode, id: string, gid: string, query: string, t0: number, say: (e: AgentsDemoEvent) => void): Promise<AgentsDemoSummary['exchanges'][number]> {
  let nudged = false
  const results = await until(`${to.name}'s agent to recall "${query}"`, async () => {
    const r = await agentOf(to).call<{ results: RecallHit[] }>('recall', { query, group: gid })
    if (r.results.some(h => h.id === id)) return r.results
    if (!nudged && performance.now() - t0 > NUDGE_AFTER_MS) { nudged = true; await from.api.syncGroup(gid).catch(() => {}) }
    return undefined
  }, FIND_WAIT_MS)
  const afterMs = Math.round(performance.now() - t0)
  say({ kind: 'recall', agent: to.name, query, results, afterMs, nudged })
  return { from: from.name, to: to.name, id, query, found: true, afterMs, nudged }
}

export async function runAgentsDemo (net: AgentsNetwork, o: { onEvent?: (e: AgentsDemoEvent) => void } = {}): Promise<AgentsDemoSummary> {
  const say = o.onEvent ?? (() => {})
  const alice = net.node('alice')
  const bob = net.node('bob')
  const carol = net.node('carol')

  // The group: alice creates it and adds bob's entity, saying where bob's node is.
  const t0 = performance.now()
  const g = await alice.api.createGroup({ name: GROUP, culture: 'chatty' })
  await alice.api.addMember(g.id, { entityId: bob.entityId, role: 'member', multiaddr: bob.multiaddr })
  await until('bob\'s node to hold the group', async () => (await bob.api.listGroups()).groups.some(x => x.id === g.id) ? true : undefined, FIND_WAIT_MS)
  const adoptedMs = Math.round(performance.now() - t0)
  // Push needs bob on the group's gossipsub topic; a miss is caught by anti-entropy, only slower.
  const pubsub = alice.daemon.network().libp2p.services.pubsub
  await until('bob to join the group\'s push topic', async () => pubsub.getSubscribers(topicOf(g.id as GroupId)).map(String).includes(bob.peerId) ? true : undefined, 5000).catch(() => {})
  say({ kind: 'group', name: GROUP, groupId: g.id, members: ['alice', 'bob'], adoptedMs })

  await net.connectAgents()
  const tools = (await agentOf(alice).client.listTools()).tools.map(t => t.name)
  say({ kind: 'agents', agents: net.nodes.map(n => ({ agent: `${n.name}'s agent`, node: n.name, tools })) })

  const exchanges: AgentsDemoSummary['exchanges'] = []
  const talk = async (from: AgentNode, to: AgentNode, content: string, query: string): Promise<string> => {
    const t = performance.now()
    const w = await agentOf(from).call<{ id: string, groupId: string }>('remember', { content, group: GROUP, type: 'decision' })
    say({ kind: 'remember', agent: from.name, content, id: w.id, groupId: w.groupId, ms: Math.round(performance.now() - t) })
    exchanges.push(await recallUntilFound(from, to, w.id, g.id, query, t, say))
    return w.id
  }
  const first = await talk(alice, bob, 'Atlas decision: the billing service moves to Postgres 16 in the March release; Dana owns the migration.', 'billing Postgres')
  await talk(bob, alice, 'Atlas: the Postgres 16 migration dry run passed on staging; cutover is planned for March 12.', 'migration cutover')

  // carol: a peer of alice's node, not a member: her node holds nothing of the group.
  const queries: AgentsDemoSummary['outsider']['queries'] = []
  let lastResults: RecallHit[] = []
  for (const query of ['billing Postgres', 'migration cutover', 'Atlas']) {
    lastResults = (await agentOf(carol).call<{ results: RecallHit[] }>('recall', { query })).results
    queries.push({ query, results: lastResults.length })
  }
  let getMemory: { code: string, message: string }
  try {
    await agentOf(carol).call('get_memory', { id: first })
    throw new CairnError('INTEGRITY', 'carol\'s agent read a memory of a group carol is not in')
  } catch (e) {
    if (!isCairnError(e) || e.code === 'INTEGRITY') throw e
    getMemory = { code: e.code, message: e.message }
  }
  say({ kind: 'outsider', agent: 'carol', query: 'Atlas', results: lastResults, getMemory })

  return {
    dataDir: net.root,
    nodes: net.nodes.map(n => ({ name: n.name, inGroup: n.inGroup, peerId: n.peerId, entityId: n.entityId, multiaddr: n.multiaddr })),
    group: { name: GROUP, id: g.id, members: ['alice', 'bob'] },
    exchanges,
    outsider: { agent: 'carol', queries, getMemory: { code: getMemory.code } }
  }
}
