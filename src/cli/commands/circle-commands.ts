import type { Command } from 'commander'
import type { ApprovalPolicy, CultureName, RoleName } from '../../contract/models.js'
import { contextOf } from '../context.js'
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

  circle.command('unseal <groupId>').description('collect shares from online members and open the circle for a while')
    .option('--ttl <seconds>', 'how long the key stays in memory')
    .action(run(async (gid: string, o: { ttl?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (ctx.tty) process.stderr.write('asking the circle\'s members for their shares…\n')
      const r = await ctx.client().unsealCircle(gid, o.ttl !== undefined ? Number(o.ttl) : undefined)
      emit(ctx, r, () => table([['unsealed', `${r.sharesCollected} of ${r.threshold} shares`], ['from', r.from.join('\n  ')], ['until', r.expiresAt], ...r.badShares.map(b => ['bad share from', b.entityId])]))
    }))

  circle.command('seal <groupId>').description('forget the circle key now').action(run(async (gid: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().sealCircle(gid)
    emit(ctx, r, () => r.sealed ? 'sealed' : 'it was not unsealed')
  }))

  circle.command('requests').description('share requests waiting for your decision (manual approval)').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().listShareRequests()
    emit(ctx, r, () => r.requests.length === 0 ? 'no share requests' : table([['ID', 'STATE', 'CIRCLE', 'FROM', 'EXPIRES'], ...r.requests.map(q => [q.id, q.state, q.groupId, q.from, q.expiresAt])]))
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
