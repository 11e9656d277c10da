/**
 * `cairn demo`: the first command a newcomer runs. It needs no init, no config
 * and no daemon: src/node/demo.ts builds a throwaway network, this file tells
 * its story step by step (or prints one JSON summary with --json), and the
 * network is always stopped and deleted afterwards — on success, on an error,
 * and on Ctrl-C. `--keep` leaves it running, with the commands to try, until Ctrl-C.
 */
import type { Command } from 'commander'
import { performance } from 'node:perf_hooks'
import type { DemoEvent, DemoItem, DemoNetwork, DemoNode, DemoSummary } from '../../node/demo.js'
import type { RawItem } from '../../items/item-service.js'
import { InvalidInputError } from '../../util/errors.js'
import { contextOf } from '../context.js'
import { emit, table } from '../output.js'
import { run } from '../run.js'
import { demoAgents } from './demo-agents-view.js'

const MAX_ITEMS = 1000
const SHOWN_WRITES = 12

export function demoCommand (program: Command): void {
  program.command('demo')
    .description('start a throwaway local network (an agent and two keepers), write, replicate, and show a keeper\'s ciphertext beside what the owner reads')
    .option('--items <n>', `how many items to write (1–${MAX_ITEMS})`, '6')
    .option('--keep', 'leave the network running (with commands to try) until Ctrl-C')
    .option('--agents', 'instead: three nodes with an AI agent each (over `cairn mcp`); two share memory through a group, the third finds nothing')
    .action(run(async (opts: { items: string, keep?: boolean, agents?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (opts.agents === true) {
        if (opts.keep === true) throw new InvalidInputError('--keep is not available with --agents')
        await demoAgents(ctx)
        return
      }
      const items = Number(opts.items)
      if (!Number.isInteger(items) || items < 1 || items > MAX_ITEMS) throw new InvalidInputError(`--items must be a whole number from 1 to ${MAX_ITEMS}, got ${opts.items}`)
      const keep = opts.keep === true
      const out = (s = ''): void => { if (!ctx.json) process.stdout.write(s + '\n') }
      const t0 = performance.now()

      // Loaded here, not at the top: other verbs need not load the node and libp2p for it.
      const { DemoNetwork, runDemo } = await import('../../node/demo.js')
      const net = new DemoNetwork({ logs: keep })
      let waiting = false
      let release: () => void = () => {}
      const released = new Promise<void>(resolve => { release = resolve })
      const onSignal = (): void => {
        if (waiting) { release(); return }
        // Interrupted mid-demo: clean up, then leave with the conventional 130.
        process.stderr.write('\ninterrupted: stopping the demo nodes and deleting their data\n')
        net.close().finally(() => process.exit(130))
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        out(`cairn demo: a throwaway network on 127.0.0.1, data in ${net.root}${keep ? '' : ' (deleted at the end)'}`)
        out('starting an agent node and two keepers…')
        await net.start()
        out()
        out(section(1, `Nodes (up in ${secs(performance.now() - t0)})`))
        out(indent(nodesTable(net.nodes)))
        let step = 1
        const summary = await runDemo(net, { items, onEvent: e => { if (!ctx.json) step = render(e, step, net, items) } })
        if (keep) {
          const passphraseFile = net.savePassphrase()
          emit(ctx, { ...summary, durationMs: Math.round(performance.now() - t0), removed: false, kept: keptInfo(net, passphraseFile) }, () => '\n' + keepText(net, summary, passphraseFile))
          waiting = true
          await released
          out('\nstopping the demo nodes and deleting their data…')
        }
        await net.close()
        const done: DemoSummary & { removed: boolean } = { ...summary, durationMs: Math.round(performance.now() - t0), removed: true }
        if (!keep) emit(ctx, done, () => '\n' + section(step + 1, `Stopped ${net.nodes.length} nodes and deleted ${net.root} (${secs(done.durationMs)} in all)`))
        else out(`stopped ${net.nodes.length} nodes and deleted ${net.root}`)
      } finally {
        await net.close()
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    }, { keepAlive: true }))
}

// ---- rendering (people) ----

const section = (n: number, title: string): string => `${n}. ${title}`
const indent = (s: string, by = '   '): string => s.split('\n').map(l => (l === '' ? l : by + l)).join('\n')
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const ms = (x: number): string => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`
const clip = (s: string, n: number): string => s.length <= n ? s : s.slice(0, n - 1) + '…'

function nodesTable (nodes: DemoNode[]): string {
  const ordered = [...nodes].sort((a, b) => a.name.localeCompare(b.name))
  return table(ordered.flatMap(n => [
    [n.name, 'peer ID', n.peerId],
    ...(n.entityId !== null ? [['', 'entity ID', n.entityId]] : []),
    ['', 'API', n.apiUrl + (n.role === 'keeper' ? '   (a keeper: stores ciphertext, holds no key)' : '')]
  ]))
}

/** Print one step of the story; returns the number of the last section printed. */
function render (e: DemoEvent, step: number, net: DemoNetwork, total: number): number {
  const p = (s = ''): void => { process.stdout.write(s + '\n') }
  switch (e.kind) {
    case 'group': {
      if (e.personal) { p(); p(section(++step, 'Groups, each given both keepers (the descriptor travels to them over libp2p)')) }
      const reached = Object.entries(e.deliveredMs).map(([k, v]) => `${k} ${ms(v)}`).join(', ')
      p(indent(`${e.name.padEnd(11)} ${e.id}  held by the keepers after ${reached}`))
      return step
    }
    case 'write': {
      if (e.index === 1) {
        p(); p(section(++step, 'Writes, and how long after the write request each keeper stored them'))
        p(indent('(all three nodes share this one process and its event loop, so these timings are pessimistic)'))
        p(indent(writeRow(['#', 'GROUP', 'TYPE', 'CONTENT', 'ACK', ...net.keepers.map(k => k.name.toUpperCase())])))
      }
      if (e.index <= SHOWN_WRITES) {
        const it = e.item
        p(indent(writeRow([String(e.index), it.group === 'personal' ? 'personal' : 'team', it.type, clip(it.content, 44), ms(it.writeMs), ...net.keepers.map(k => it.replication[k.name] !== undefined ? `${ms(it.replication[k.name]!.ms)} ${it.replication[k.name]!.via}` : '-')])))
      } else if (e.index === total) p(indent(`… and ${total - SHOWN_WRITES} more (all in --json)`))
      return step
    }
    case 'compare': {
      p(); p(section(++step, `One item, two views (item ${e.item.id})`))
      p(indent(sideBySide(keeperLines(e.item, e.raw), ownerLines(e.item))))
      return step
    }
    case 'refusal': {
      p(); p(section(++step, `${e.keeper} asked for the decrypted item (GET /api/v1/items/:id)`))
      p(indent(`refused: ${e.status} ${e.code}: ${e.message}`))
      return step
    }
    case 'search': {
      p(); p(section(++step, `Search on the agent for "${e.query}" (an in-memory index of what it can decrypt)`))
      p(indent(e.results.length === 0 ? 'no results' : e.results.map(r => `${r.snippet.replace(/\s+/g, ' ')}   (${r.groupId === net.agent.daemon.status().personalGroupId ? 'personal' : 'team orion'})`).join('\n')))
      return step
    }
    case 'sync': {
      p(); p(section(++step, 'Anti-entropy on demand (POST /api/v1/groups/:gid/sync, personal group)'))
      const name = (pid: string): string => net.nodes.find(n => n.peerId === pid)?.name ?? pid
      p(indent(table([['PEER', 'SENT', 'RECEIVED', 'BYTES', 'ROUND TRIPS'], ...e.peers.map(r => [name(r.peerId), String(r.sent), String(r.received), String(r.bytes), String(r.roundTrips) + (r.error !== undefined ? `  (${r.error})` : '')])])))
      p(indent(e.peers.every(r => r.sent === 0 && r.received === 0) ? 'nothing to exchange: push had already delivered everything, and the check cost only fingerprints' : 'the difference was exchanged; traffic grows with the difference, not the set'))
      return step
    }
  }
}

const writeRow = (cells: string[]): string => cells.map((c, i) => c.padEnd([3, 9, 12, 45, 8, 14, 14][i] ?? 14)).join(' ').trimEnd()

function keeperLines (it: DemoItem, raw: RawItem): string[] {
  const ct = it.keeperView.ciphertext
  const chunks = [0, 1, 2].map(i => ct.slice(i * 40, (i + 1) * 40)).filter(s => s !== '')
  return [
    `${it.keeperView.keeper} holds (GET …/raw)`,
    `key version  ${it.keeperView.keyVersion}`,
    `padded size  ${it.keeperView.paddedSize} B (a size bucket)`,
    `record       ${raw.size} B, signed by the author`,
    `ciphertext   ${chunks[0] ?? ''}`,
    ...chunks.slice(1).map(c => `             ${c}`),
    `             … (${Buffer.from(ct, 'base64').length} B in all, base64)`
  ]
}

function ownerLines (it: DemoItem): string[] {
  const words = it.ownerView.content.split(' ')
  const lines: string[] = []
  let cur = ''
  for (const w of words) {
    if ((cur + ' ' + w).trim().length > 40) { lines.push(cur); cur = w } else cur = (cur + ' ' + w).trim()
  }
  if (cur !== '') lines.push(cur)
  return [
    'the owner reads (GET /items/:id)',
    `type         ${it.ownerView.type}`,
    `key version  ${it.ownerView.keyVersion}`,
    `author       ${clip(it.ownerView.author, 40)}`,
    ...lines.map((l, i) => `${i === 0 ? 'content      ' : '             '}${l}`)
  ]
}

function sideBySide (left: string[], right: string[], width = 58): string {
  const n = Math.max(left.length, right.length)
  return Array.from({ length: n }, (_, i) => `${(left[i] ?? '').padEnd(width)}${right[i] ?? ''}`.trimEnd()).join('\n')
}

// ---- --keep ----

function keptInfo (net: DemoNetwork, passphraseFile: string): { passphraseFile: string, nodes: Array<{ name: string, dataDir: string, apiUrl: string, token: string }> } {
  return { passphraseFile, nodes: net.nodes.map(n => ({ name: n.name, dataDir: n.dataDir, apiUrl: n.apiUrl, token: n.token })) }
}

function keepText (net: DemoNetwork, s: Omit<DemoSummary, 'durationMs'>, passphraseFile: string): string {
  const a = net.agent
  const k = net.keepers[0]!
  const first = s.items[0]!
  const personal = s.groups.find(g => g.personal)!.id
  const c = (n: DemoNode, rest: string): string => `cairn --data-dir ${n.dataDir} ${rest}`
  return [
    'The network keeps running until Ctrl-C. Try, from another terminal:',
    indent([
      c(a, 'status'),
      c(a, 'ls'),
      c(a, `get ${first.id}`),
      c(a, `search ${s.search.query}`),
      c(a, 'put "the user likes dark mode"'),
      c(a, `group show ${personal}`),
      c(k, 'status'),
      c(k, `get ${first.id}          # refused: a keeper holds no keys`),
      c(a, `lock && ${c(a, `unlock --passphrase-file ${passphraseFile}`)}`)
    ].join('\n')),
    '',
    'Or the HTTP API directly (each node\'s token is in <data dir>/api-token):',
    indent(table(net.nodes.map(n => [n.name, n.apiUrl, n.token])), '   '),
    indent(`curl -H "Authorization: Bearer ${k.token}" ${k.apiUrl}/api/v1/groups/${personal}/raw`),
    '',
    'Ctrl-C stops the nodes and deletes ' + net.root
  ].join('\n')
}
