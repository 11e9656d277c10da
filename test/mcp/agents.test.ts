/**
 * Memory shared between agents (issue 11, part 4): two agents on two nodes in
 * one shared group, each through its own `cairn mcp` (the SDK's Client over
 * stdio spawning the real CLI): one remembers, the other recalls it seconds
 * later; a third agent, whose node is a connected peer but not a member,
 * finds nothing and cannot read it by ID. The nodes come from the demo's
 * network (src/node/demo-agents.ts); the steps and checks here are the test's own.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { AgentsNetwork, type AgentNode } from '../../src/node/demo-agents.js'
import { uuidToBytes } from '../../src/crypto/ids.js'
import type { McpSession } from '../../src/mcp/connect.js'
import { waitFor } from '../helpers/cli.js'

let net: AgentsNetwork
let alice: AgentNode, bob: AgentNode, carol: AgentNode
let gid: string
const agent = (n: AgentNode): McpSession => n.agent!

before(async () => {
  net = new AgentsNetwork()
  await net.start()
  ;[alice, bob, carol] = [net.node('alice'), net.node('bob'), net.node('carol')]
  gid = (await alice.api.createGroup({ name: 'skunkworks' })).id
  await alice.api.addMember(gid, { entityId: bob.entityId, role: 'member', multiaddr: bob.multiaddr })
  await waitFor('bob\'s node to hold the group', async () => (await bob.api.listGroups()).groups.some(g => g.id === gid), 30_000)
  await net.connectAgents()
})
after(async () => { await net?.close() })

const recall = async (n: AgentNode, query: string): Promise<Array<{ id: string, groupId: string }>> =>
  (await agent(n).call<{ results: Array<{ id: string, groupId: string }> }>('recall', { query })).results

test('alice\'s agent remembers into the shared group; bob\'s agent, on its own node, recalls it seconds later; and back', { timeout: 120_000 }, async () => {
  const groups = await agent(bob).call<{ groups: Array<{ id: string, name: string, role: string }> }>('list_groups')
  assert.ok(groups.groups.some(g => g.id === gid && g.name === 'skunkworks' && g.role === 'member'), 'bob\'s agent sees the group by name')

  const t0 = performance.now()
  const w = await agent(alice).call<{ id: string, groupId: string }>('remember', { content: 'Skunkworks: the prototype badge reader uses NFC tag model XR-7.', group: 'skunkworks' })
  assert.equal(w.groupId, gid)
  const hits = await waitFor('bob\'s agent to recall alice\'s memory', async () => { const r = await recall(bob, 'badge XR'); return r.some(h => h.id === w.id) ? r : undefined }, 30_000, 100)
  const ms = performance.now() - t0
  assert.equal(hits.find(h => h.id === w.id)!.groupId, gid)
  const seen = await agent(bob).call<{ content: string, author: string }>('get_memory', { id: w.id })
  assert.equal(seen.author, alice.entityId, 'bob reads alice as the author, from her signature')
  assert.match(seen.content, /XR-7/)
  process.stderr.write(`# recall on the other node ${Math.round(ms)} ms after remember\n`)

  const back = await agent(bob).call<{ id: string }>('remember', { content: 'Skunkworks: XR-7 readers fail below -10 C; order the XR-8 for the loading dock.', group: gid })
  const t1 = performance.now()
  await waitFor('alice\'s agent to recall bob\'s answer', async () => (await recall(alice, 'loading dock')).some(h => h.id === back.id), 30_000, 100)
  process.stderr.write(`# and back ${Math.round(performance.now() - t1)} ms\n`)
})

test('carol\'s agent, on a connected node outside the group, finds nothing and cannot read the memory by ID', async () => {
  const w = await agent(alice).call<{ id: string }>('remember', { content: 'Skunkworks budget for the badge pilot is 40k.', group: gid })
  await waitFor('bob to have it (so it has replicated where it may)', async () => (await recall(bob, 'budget pilot')).some(h => h.id === w.id), 30_000, 100)
  assert.ok((await carol.api.listPeers()).peers.some(p => p.peerId === alice.peerId), 'carol\'s node is a peer of alice\'s')
  for (const q of ['budget pilot', 'badge', 'Skunkworks']) assert.deepEqual(await recall(carol, q), [], `carol's recall "${q}"`)
  const r = await agent(carol).client.callTool({ name: 'get_memory', arguments: { id: w.id } })
  assert.equal(r.isError, true)
  assert.equal(JSON.parse((r.content as Array<{ text: string }>)[0]!.text).error.code, 'NOT_FOUND')
  assert.deepEqual((await agent(carol).call<{ groups: Array<{ id: string }> }>('list_groups')).groups.filter(g => g.id === gid), [])
  // Nothing of the group on carol's disk either: not its ID (every record names its group), not a word of it.
  const files = (d: string): string[] => readdirSync(d).flatMap(f => { const p = join(d, f); return statSync(p).isDirectory() ? files(p) : [p] })
  const marks = [Buffer.from(gid), Buffer.from(uuidToBytes(gid)), Buffer.from('Skunkworks')]
  for (const f of files(carol.dataDir)) {
    const bytes = readFileSync(f)
    assert.ok(marks.every(m => !bytes.includes(m)), `${f} holds something of the group`)
  }
})
