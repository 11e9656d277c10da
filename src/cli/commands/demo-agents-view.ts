/**
 * `cairn demo --agents`: tells the story of src/node/demo-agents.ts step by
 * step (or prints one JSON summary with --json). The network is always
 * stopped and deleted, on success, on an error and on Ctrl-C.
 */
import { performance } from 'node:perf_hooks'
import type { AgentsDemoEvent, AgentsDemoSummary } from '../../node/demo-agents.js'
import type { CliContext } from '../context.js'
import { emit, table } from '../output.js'

const indent = (s: string, by = '   '): string => s.split('\n').map(l => (l === '' ? l : by + l)).join('\n')
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

export async function demoAgents (ctx: CliContext): Promise<void> {
  const out = (s = ''): void => { if (!ctx.json) process.stdout.write(s + '\n') }
  const t0 = performance.now()
  const { AgentsNetwork, runAgentsDemo } = await import('../../node/demo-agents.js')
  const net = new AgentsNetwork()
  const onSignal = (): void => {
    process.stderr.write('\ninterrupted: stopping the demo nodes and agents, deleting their data\n')
    net.close().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    out(`cairn demo --agents: three nodes and three AI agents on 127.0.0.1, data in ${net.root} (deleted at the end)`)
    out('starting the nodes of alice, bob and carol…')
    await net.start()
    out()
    out(`1. Nodes (up in ${secs(performance.now() - t0)}; alice's node is connected to both others)`)
    out(indent(table(net.nodes.flatMap(n => [[n.name, 'entity', n.entityId], ['', 'peer', n.peerId + (n.inGroup ? '' : '   (not in the group)')]]))))
    let step = 1
    const summary: AgentsDemoSummary = await runAgentsDemo(net, { onEvent: e => { if (!ctx.json) step = render(e, step) } })
    await net.close()
    const done = { ...summary, durationMs: Math.round(performance.now() - t0), removed: true }
    emit(ctx, done, () => `\n${step + 1}. Stopped the agents and nodes and deleted ${net.root} (${secs(done.durationMs)} in all)`)
  } finally {
    await net.close()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

function render (e: AgentsDemoEvent, step: number): number {
  const p = (s = ''): void => { process.stdout.write(s + '\n') }
  switch (e.kind) {
    case 'group':
      p(); p(`${++step}. alice creates the group "${e.name}" and adds bob (his node holds it ${secs(e.adoptedMs)} later)`)
      p(indent(`group ${e.groupId}: members ${e.members.join(' and ')}; carol is not a member`))
      return step
    case 'agents':
      p(); p(`${++step}. Each node gets an agent: \`cairn mcp --data-dir <node>\`, driven by the MCP SDK's client over stdio`)
      p(indent(e.agents.map(a => `${a.agent.padEnd(16)} → ${a.node}'s node`).join('\n')))
      p(indent(`tools: ${e.agents[0]?.tools.join(', ') ?? ''}`))
      return step
    case 'remember':
      p(); p(`${++step}. ${e.agent}'s agent: remember {group: "project atlas"} (${e.ms} ms)`)
      p(indent(`"${e.content}"`))
      p(indent(`→ ${e.id}`))
      return step
    case 'recall':
      p(indent(`${e.agent}'s agent, on its own node: recall "${e.query}" → found ${secs(e.afterMs)} after the write${e.nudged ? ' (after an anti-entropy nudge)' : ''}`))
      for (const h of e.results.slice(0, 2)) p(indent(`  ${h.snippet}`))
      return step
    case 'outsider':
      p(); p(`${++step}. carol's agent, outside the group (its node is a peer of alice's)`)
      p(indent(`recall "billing Postgres", "migration cutover", "${e.query}" → ${e.results.length === 0 ? 'nothing' : `${e.results.length} results (!)`}`))
      p(indent(`get_memory <alice's memory> → ${e.getMemory.code}: ${e.getMemory.message}`))
      p(indent('her node never received the group: no record, no key, not even the name'))
      return step
  }
}
