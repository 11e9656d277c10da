import { InvalidArgumentError, type Command } from 'commander'
import type { Overrides } from '../../config/load.js'
import { contextOf } from '../context.js'
import { emit, table } from '../output.js'
import { obtainPassphrase } from '../passphrase.js'
import { run } from '../run.js'
import { CairnError } from '../../util/errors.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map(s => s.trim()).filter(Boolean)]

/** A TCP port, 0–65535 (0 = any free port). */
export function portArg (v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('give a port number from 0 to 65535 (0 = any free port).')
  return Number(v)
}

export function nodeCommands (program: Command): void {
  program.command('init')
    .description('create the node key, entity key, vault and personal group (or a keeper with --keeper)')
    .option('--keeper', 'make a keeper node: no entity, no vault, no keys')
    .option('--passphrase-file <file>', 'read the vault passphrase from a file')
    .action(run(async (opts: { keeper?: boolean, passphraseFile?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const keeper = opts.keeper === true
      const passphrase = keeper ? undefined : await obtainPassphrase({ file: opts.passphraseFile, confirm: true })
      // The node stack (libp2p, SQLite, fastify) loads only for the verbs that run a node:
      // client verbs like `cairn put` start in a fraction of the time.
      const { initNode } = await import('../../node/init.js')
      const r = await initNode({ dataDir: ctx.dataDir, keeper, ...(passphrase !== undefined ? { passphrase } : {}) })
      emit(ctx, keeper ? { peerId: r.peerId, dataDir: r.dataDir, keeper: true } : { entityId: r.entityId, peerId: r.peerId, personalGroupId: r.personalGroupId, dataDir: r.dataDir }, () => table([
        ...(keeper ? [['keeper node', 'yes']] : [['entity ID', r.entityId ?? ''], ['personal group', r.personalGroupId ?? '']]),
        ['peer ID', r.peerId], ['data dir', r.dataDir], ['next', `cairn start --data-dir ${r.dataDir}${keeper ? ' --keeper' : ''}`]
      ]))
    }))

  program.command('start')
    .description('run the node in the foreground (Ctrl-C or SIGTERM stops it cleanly)')
    .option('--keeper', 'run as a keeper')
    .option('--api-port <port>', 'HTTP API port (0 = any free port)', portArg)
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable or comma-separated)', collect)
    .option('--bootstrap <multiaddr>', 'peer to connect to at start (repeatable or comma-separated)', collect)
    .option('--passphrase-file <file>', 'unlock the vault at start with the passphrase in this file')
    .action(run(async (opts: { keeper?: boolean, apiPort?: number, listen?: string[], bootstrap?: string[], passphraseFile?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const flags: Overrides = {
        ...(opts.keeper === true ? { node: { keeper: true } } : {}),
        api: { port: opts.apiPort },
        network: { listen: opts.listen, bootstrap: opts.bootstrap }
      }
      const passphrase = opts.keeper === true ? undefined : await obtainPassphrase({ file: opts.passphraseFile, required: false })
      // The vault key's scrypt runs while the daemon's modules load (node/early-unlock.ts).
      const early = passphrase !== undefined ? (await import('../../node/early-unlock.js')).deriveEarly(ctx.dataDir, passphrase) : undefined
      const { Daemon } = await import('../../node/daemon.js')
      let d: Awaited<ReturnType<typeof Daemon.start>>
      try {
        d = await Daemon.start({ dataDir: ctx.dataDir, flags, ...(passphrase !== undefined ? { passphrase } : {}), ...(early !== undefined ? { kdf: early.kdf } : {}) })
      } finally { early?.forget() }
      // Handlers before the status line: whoever reads it may signal at once,
      // and a signal with no handler yet kills the process (measured: 10 of 40
      // stops on a loaded machine exited by the signal instead of 0).
      const stopped = new Promise<void>(resolve => {
        const stop = (): void => { d.stop().then(resolve, resolve) }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        // POST /api/v1/shutdown (`cairn stop`) stops it the same way.
        void d.stopped.then(resolve)
      })
      const st = d.status()
      emit(ctx, { ...st, apiPort: d.apiPort }, () => table([
        ['cairn', `${st.keeper ? 'keeper' : 'node'} running (${st.unlocked ? 'unlocked' : st.keeper ? 'no vault' : 'locked: run `cairn unlock`'})`],
        ['peer ID', st.peerId], ...(st.entityId !== null ? [['entity ID', st.entityId]] : []),
        ['API', `http://${d.config.api.host}:${d.apiPort}`], ...st.listenAddrs.map(a => ['listening', a])
      ]))
      await stopped
    }, { keepAlive: true }))

  program.command('recover')
    .description('rebuild a lost device from a keeper: vault, groups and items (needs the passphrase); interrupted, the same command resumes')
    .requiredOption('--from <multiaddr>', 'a keeper holding your personal group, e.g. /ip4/…/tcp/9474/p2p/12D3…')
    .requiredOption('--entity <entityId>', 'your entity ID (cairn1…)')
    .option('--passphrase-file <file>', 'read the passphrase from a file')
    .action(run(async (opts: { from: string, entity: string, passphraseFile?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const passphrase = (await obtainPassphrase({ file: opts.passphraseFile }))!
      const cliProgress = ctx.tty ? (await import('cli-progress')).default : undefined
      const bar = cliProgress !== undefined ? new cliProgress.SingleBar({ format: 'recovering [{bar}] {value}/{total} groups | {records} records', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined
      let started = false
      if (ctx.tty) process.stderr.write('fetching the vault from the keeper (deriving the key takes a moment)…\n')
      const { recoverNode, recoveryWorkDir } = await import('../../node/recover.js')
      const { silentLogger } = await import('../../util/logger.js')
      // Ctrl-C: stop cleanly and say how to go on; the work directory stays and the next run resumes it.
      const abort = new AbortController()
      const onSignal = (): void => { abort.abort(new CairnError('INTERRUPTED', `recovery interrupted; run the same command again to resume (the work so far is kept in ${recoveryWorkDir(ctx.dataDir)})`)) }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      try {
        const r = await recoverNode({
          dataDir: ctx.dataDir, from: opts.from, entityId: opts.entity, passphrase, log: silentLogger(), signal: abort.signal,
          onProgress: p => {
            if (bar === undefined || p.phase === 'vault') return
            if (!started) { bar.start(Math.max(p.groupsTotal, 1), 0, { records: 0 }); started = true }
            bar.update(p.groupsDone, { records: p.records })
            if (p.phase === 'done') bar.stop()
          }
        })
        emit(ctx, r, () => table([
          ['recovered', r.entityId], ['new peer ID', r.peerId], ['groups', String(r.groups)], ['items', String(r.items)], ['records held', String(r.records)],
          ...(r.resumed ? [['resumed', 'an interrupted recovery was completed']] : []),
          ...r.errors.map(e => ['warning', e]), ['next', `cairn start --data-dir ${r.dataDir}`]
        ]))
      } catch (e) {
        bar?.stop()
        if (abort.signal.aborted) throw abort.signal.reason
        throw e
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    }, { keepAlive: true }))

  program.command('status').description('show the running node, and what needs attention (groups no keeper holds yet)').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const s = await ctx.client().getStatus()
    const warnings = s.warnings ?? []
    emit(ctx, s, () => table([
      ['state', `${s.keeper ? 'keeper' : s.unlocked ? 'unlocked' : 'locked'}`], ['peer ID', s.peerId],
      ...(s.entityId !== null ? [['entity ID', s.entityId]] : []), ...(s.personalGroupId !== null ? [['personal group', s.personalGroupId]] : []),
      ['groups', String(s.counts.groups)], ['items', String(s.counts.items)], ['peers', String(s.counts.peers)],
      ...s.listenAddrs.map(a => ['listening', a]), ['version', s.version]
    ]) + (warnings.length > 0 ? '\n\n' + warnings.map(w => `warning: ${w.message}`).join('\n') + (warnings.some(w => w.groupId !== undefined) ? '\n  (`cairn group show <groupId>` shows each keeper and member)' : '') : ''))
  }))

  program.command('unlock').description('unlock the running node\'s vault')
    .option('--passphrase-file <file>', 'read the passphrase from a file')
    .action(run(async (opts: { passphraseFile?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const passphrase = await obtainPassphrase({ file: opts.passphraseFile })
      const r = await ctx.client().unlock(passphrase!)
      emit(ctx, r, () => 'unlocked')
    }))

  program.command('lock').description('lock the vault (keys are wiped from memory; not on a keeper, which has none)').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().lock()
    emit(ctx, r, () => 'locked')
  }))

  const peers = program.command('peers').description('connected peers; `peers add <multiaddr>` dials one')
    .action(run(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().listPeers()
      emit(ctx, r, () => r.peers.length === 0 ? 'no peers connected' : table([['PEER', 'ENTITY', 'ADDRESSES'], ...r.peers.map(p => [p.peerId, p.entityId ?? '-', p.addrs.join(' ')])]))
    }))
  peers.command('add <multiaddr>').description('dial a peer').action(run(async (addr: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().dialPeer(addr)
    emit(ctx, r, () => `connected to ${r.peers[0]?.peerId ?? addr}`)
  }))
}
