/** Verbs for running a node: stop, version, jobs, doctor. */
import type { Command } from 'commander'
import { setTimeout as sleep } from 'node:timers/promises'
import { VERSION } from '../../node/version.js'
import { CairnError, isCairnError } from '../../util/errors.js'
import { contextOf } from '../context.js'
import { daemonRecord } from '../daemon-file.js'
import { emit, table } from '../output.js'
import { followJob } from '../progress.js'
import { resolveJob } from '../resolve.js'
import { run } from '../run.js'

export function operatorCommands (program: Command): void {
  program.command('stop').description('stop the running node (as Ctrl-C or SIGTERM would) and wait until it has stopped')
    .option('--timeout <seconds>', 'how long to wait for it to stop', '60')
    .action(run(async (o: { timeout: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const before = daemonRecord(ctx.dataDir)
      try {
        await ctx.client().shutdown()
      } catch (e) {
        if (isCairnError(e) && e.code === 'UNAVAILABLE' && before?.alive !== true) {
          emit(ctx, { stopped: true, wasRunning: false }, () => `no cairn node is running on ${ctx.dataDir}`)
          return
        }
        throw e
      }
      const until = Date.now() + Number(o.timeout) * 1000
      // The daemon removes daemon.json as its last step: gone (or its process gone) = stopped.
      while (daemonRecord(ctx.dataDir)?.alive === true) {
        if (Date.now() > until) throw new CairnError('TIMEOUT', `the node (pid ${before?.pid ?? '?'}) is still stopping after ${o.timeout} s; see its log`)
        await sleep(100)
      }
      emit(ctx, { stopped: true, wasRunning: true, pid: before?.pid ?? null }, () => 'stopped')
    }))

  program.command('version').description('the version of this cairn and of the running node')
    .action(run(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      let daemon: string | null = null
      try { daemon = (await ctx.client().getStatus()).version } catch { /* no node running: the CLI's own version is the answer */ }
      emit(ctx, { cli: VERSION, daemon, node: process.version }, () => table([
        ['cairn', VERSION], ['running node', daemon ?? `not running on ${ctx.dataDir}`], ['Node.js', process.version]
      ]))
    }))

  const jobs = program.command('jobs [jobId]').description('background jobs (re-encryption after a rotation); with an ID, that job')
    .option('-n, --limit <n>', 'how many', '20')
    .option('-f, --follow', 'with an ID: follow the job to its end (progress bar)')
    .action(run(async (id: string | undefined, o: { limit: string, follow?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (id !== undefined) {
        const jid = await resolveJob(ctx, id)
        const j = o.follow === true ? await followJob(ctx.client(), jid, 're-encrypting', ctx.tty) : await ctx.client().getJob(jid)
        emit(ctx, j, () => table([['job', j.id], ['kind', j.kind], ['group', j.groupId], ['state', j.state], ['progress', `${j.done}/${j.total}`], ...(j.error !== undefined ? [['error', j.error]] : []), ['created', j.createdAt], ['updated', j.updatedAt]]))
        return
      }
      const r = await ctx.client().listJobs({ limit: Number(o.limit) })
      emit(ctx, r, () => r.jobs.length === 0 ? 'no jobs' : table([['ID', 'KIND', 'GROUP', 'STATE', 'PROGRESS', 'UPDATED'], ...r.jobs.map(j => [j.id, j.kind, j.groupId, j.state + (j.error !== undefined ? `: ${j.error}` : ''), `${j.done}/${j.total}`, j.updatedAt])]))
    }))
  jobs.addHelpText('after', '\nA job goes on in the daemon whether or not anyone follows it: `cairn jobs <id> --follow` picks it up again.')

  program.command('doctor').description('check this data directory: files and permissions, configuration, the whole store (integrity), the daemon')
    .action(run(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (ctx.tty) process.stderr.write('checking (the store is read in full; a large one takes a while)…\n')
      const { doctor } = await import('../../node/doctor.js')
      const r = await doctor(ctx.dataDir)
      emit(ctx, r, () => table([['CHECK', 'RESULT', 'DETAIL'], ...r.checks.map(c => [c.name, c.ok ? 'ok' : 'PROBLEM', c.detail])]) + (r.ok ? '\nall checks passed' : '\nsome checks failed: see DETAIL for what to do'))
      if (!r.ok) process.exitCode = 1
    }))
}
