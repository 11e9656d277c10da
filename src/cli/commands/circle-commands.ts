import type { Command } from 'commander'
import type { ApprovalPolicy, CultureName, RoleName, UnsealPendingView, UnsealResultView } from '../../contract/models.js'
import { CairnError, type ErrorCode } from '../../util/errors.js'
import { contextOf, type CliContext } from '../context.js'
import { emit, table } from '../output.js'
import { run } from '../run.js'
import { rotateAndFollow, showGroup } from './group-commands.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map(s => s.trim()).filter(Boolean)]

export function circleCommands (program: Command): void {
  const circle = program.command('circle').description('circles of trust: a key no member holds alone (K of N shares)')

  circle.command('create <name>').description('create a circle with you and the given members')
    .requiredOption('-k, --threshold <k>', 'shares needed to unseal (at least 2)')
    .requiredOption('-m, --member <entityId>', 'another member (repeatable or comma-separated)', collect)
    .option('--approval <policy>', 'how your node answers share requests: auto or manual', 'auto')
    .option('--culture <culture>', 'chatty or taciturn', 'chatty')
    .action(run(async (name: string, o: { threshold: string, member: string[], approval: string, culture: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().createGroup({ name, culture: o.culture as CultureName, circle: { threshold: Number(o.threshold), members: o.member, approval: o.approval as ApprovalPolicy } }))
    }))

  circle.command('unseal <groupId>').description('collect shares from the members and open the circle for a while (waits for members who approve by hand)')
    .option('--ttl <seconds>', 'how long the key stays in memory')
    .option('--no-wait', 'start the unseal and return at once (follow it with `cairn circle status`)')
    .action(run(async (gid: string, o: { ttl?: string, wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (ctx.tty) process.stderr.write('asking the circle\'s members for their shares…\n')
      const first = await ctx.client().unsealCircle(gid, { ...(o.ttl !== undefined ? { ttlSeconds: Number(o.ttl) } : {}), waitSeconds: o.wait ? 2 : 0 })
      if (first.state === 'pending' && !o.wait) { emit(ctx, first, () => progressText(first)); return }
      const r = first.state === 'pending' ? await followUnseal(ctx, gid) : first
      emit(ctx, r, () => table([
        ['unsealed', `${r.sharesCollected} of ${r.threshold} shares`], ['from', r.from.join('\n  ')], ['until', r.expiresAt],
        ...whoAnswered(r), ...r.badShares.map(b => ['bad share from', b.entityId])
      ]))
    }))

  circle.command('status <groupId>').description('sealed or unsealed, and the progress of an unseal under way (who approved, who is deciding)')
    .action(run(async (gid: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const p = await ctx.client().unsealProgress(gid)
      emit(ctx, p, () => 'collected' in p ? progressText(p) : p.state === 'unsealed' ? `unsealed until ${p.expiresAt ?? '?'}` : 'sealed')
    }))

  circle.command('seal <groupId>').description('forget the circle key now').action(run(async (gid: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().sealCircle(gid)
    emit(ctx, r, () => r.sealed ? 'sealed' : 'it was not unsealed')
  }))

  circle.command('requests').description('share requests waiting for your decision (manual approval)').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().listShareRequests()
    const waiting = r.requests.filter(q => q.state === 'pending').length
    emit(ctx, r, () => r.requests.length === 0 ? 'no share requests' : [
      table([['ID', 'STATE', 'CIRCLE', 'FROM', 'KEY', 'RECEIVED', 'EXPIRES'], ...r.requests.map(q => [q.id, q.state, q.groupId, q.from, q.keyVersions.map(v => `v${v}`).join(','), q.receivedAt, q.expiresAt])]),
      ...(waiting > 0 ? ['', `${waiting} waiting for you: \`cairn circle approve <ID>\` releases your share, \`cairn circle deny <ID>\` refuses`] : [])
    ].join('\n'))
  }))

  for (const verb of ['approve', 'deny'] as const) {
    circle.command(`${verb} <requestId>`).description(verb === 'approve' ? 'release your share to the requester' : 'refuse the request').action(run(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await (verb === 'approve' ? ctx.client().approveShareRequest(id) : ctx.client().denyShareRequest(id))
      emit(ctx, r, () => `${r.id}: ${r.state}`)
    }))
  }

  circle.command('policy <groupId> <policy>').description('auto: answer members\' share requests at once; manual: wait for `cairn circle approve`')
    .action(run(async (gid: string, policy: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().setApproval(gid, policy as ApprovalPolicy)
      emit(ctx, r, () => `${r.groupId}: ${r.policy}`)
    }))

  circle.command('add-member <groupId> <entityId>').description('add a member: the same key is re-split (the circle must be unsealed)')
    .option('--role <role>', 'member, admin or viewer', 'member')
    .action(run(async (gid: string, entityId: string, o: { role: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().addMember(gid, { entityId, role: o.role as RoleName }))
    }))

  circle.command('remove-member <groupId> <entityId>').description('remove a member: a new key version, items re-encrypted (the circle must be unsealed)')
    .option('--no-wait', 'return without following the re-encryption')
    .action(run(async (gid: string, entityId: string, o: { wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const v = await ctx.client().removeMember(gid, entityId)
      const job = await rotateAndFollow(ctx, v.jobId, o.wait)
      if (ctx.json) emit(ctx, { ...v, job }, () => '')
      else showGroup(ctx, v)
    }))
}

/** Poll the unseal's progress until it ends; a terminal sees who answered as it happens. Ctrl-C cancels it. */
async function followUnseal (ctx: CliContext, gid: string): Promise<UnsealResultView> {
  const client = ctx.client()
  let said = ''
  const onSigint = (): void => {
    void client.cancelUnseal(gid).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSigint)
  try {
    for (;;) {
      const p = await client.unsealProgress(gid)
      if (!('collected' in p)) throw new CairnError('CONFLICT', `no unseal under way: the circle is ${p.state}`)
      if (p.state !== 'pending') {
        if (p.result !== undefined) return p.result
        const err = p.error ?? { code: 'INSUFFICIENT_SHARES', message: `the unseal ended: ${p.state}` }
        throw new CairnError(err.code as ErrorCode, err.message, { collected: p.collected, needed: p.needed, approved: p.approved, denied: p.denied, noAnswer: p.noAnswer })
      }
      const line = progressText(p)
      if (ctx.tty && line !== said) process.stderr.write(line + '\n')
      said = line
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
  } finally {
    process.off('SIGINT', onSigint)
  }
}

function progressText (p: UnsealPendingView | Omit<UnsealPendingView, 'state'> & { state: string }): string {
  const parts = [`${p.state}: ${p.collected} of ${p.needed} shares`]
  const waiting = p.holders.filter(h => h.state === 'waiting').map(h => `${h.entityId} (until ${h.waitingUntil ?? '?'})`)
  if (waiting.length > 0) parts.push(`waiting for approval by ${waiting.join(', ')}`)
  if (p.approved.length > 0) parts.push(`approved by ${p.approved.join(', ')}`)
  if (p.denied.length > 0) parts.push(`denied by ${p.denied.join(', ')}`)
  if (p.noAnswer.length > 0) parts.push(`no answer from ${p.noAnswer.join(', ')}`)
  if (p.state === 'pending') parts.push(`gives up at ${p.deadline}`)
  return parts.join('; ')
}

function whoAnswered (r: UnsealResultView): string[][] {
  return [
    ...(r.approved.length > 0 ? [['approved by', r.approved.join('\n  ')]] : []),
    ...(r.denied.length > 0 ? [['denied by', r.denied.join('\n  ')]] : []),
    ...(r.noAnswer.length > 0 ? [['no answer from', r.noAnswer.join('\n  ')]] : [])
  ]
}
