import { Option, type Command } from 'commander'
import type { GroupView } from '../../groups/group-service.js'
import type { ShareRequestView } from '../../circles/approvals.js'
import type { UnsealResult } from '../../circles/circle-service.js'
import { contextOf } from '../context.js'
import { emit, table } from '../output.js'
import { resolveGroup, resolveShareRequest } from '../resolve.js'
import { run } from '../run.js'
import { rotateAndFollow, showGroup } from './group-commands.js'
import { CairnError } from '../../util/errors.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map(s => s.trim()).filter(Boolean)]
const g = (id: string): string => `/api/v1/groups/${encodeURIComponent(id)}`
const POLICIES = ['auto', 'manual']

export function circleCommands (program: Command): void {
  const circle = program.command('circle').description('circles of trust: a key no member holds alone (K of N shares)')

  circle.command('create <name>').description('create a circle with you and the given members')
    .requiredOption('-k, --threshold <k>', 'shares needed to unseal (at least 2)')
    .requiredOption('-m, --member <entityId>', 'another member (repeatable or comma-separated)', collect)
    .addOption(new Option('--approval <policy>', 'how your node answers share requests').choices(POLICIES).default('auto'))
    .addOption(new Option('--culture <culture>', 'chatty or taciturn').choices(['chatty', 'taciturn']).default('chatty'))
    .action(run(async (name: string, o: { threshold: string, member: string[], approval: string, culture: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().post<GroupView>('/api/v1/groups', { name, culture: o.culture, circle: { threshold: Number(o.threshold), members: o.member, approval: o.approval } }))
    }))

  circle.command('unseal <groupId>').description('collect shares from online members and open the circle for a while')
    .option('--ttl <seconds>', 'how long the key stays in memory')
    .action(run(async (given: string, o: { ttl?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      if (ctx.tty) process.stderr.write('asking the circle\'s members for their shares…\n')
      const r = await ctx.client().post<UnsealResult>(`${g(gid)}/unseal`, o.ttl !== undefined ? { ttlSeconds: Number(o.ttl) } : {})
      emit(ctx, r, () => table([['unsealed', `${r.sharesCollected} of ${r.threshold} shares`], ['from', r.from.join('\n  ')], ['until', r.expiresAt], ...r.badShares.map(b => ['bad share from', b.entityId])]))
    }))

  circle.command('seal <groupId>').description('forget the circle key now').action(run(async (given: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const gid = await resolveGroup(ctx, given)
    const r = await ctx.client().post<{ sealed: boolean }>(`${g(gid)}/seal`)
    emit(ctx, r, () => r.sealed ? 'sealed' : 'it was not unsealed')
  }))

  circle.command('requests').description('share requests waiting for your decision (manual approval)').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().get<{ requests: ShareRequestView[] }>('/api/v1/share-requests')
    emit(ctx, r, () => r.requests.length === 0 ? 'no share requests' : table([['ID', 'STATE', 'CIRCLE', 'FROM', 'EXPIRES'], ...r.requests.map(q => [q.id, q.state, q.groupId, q.from, q.expiresAt])]))
  }))

  for (const verb of ['approve', 'deny'] as const) {
    circle.command(`${verb} <requestId>`).description(verb === 'approve' ? 'release your share to the requester' : 'refuse the request').action(run(async (given: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const id = await resolveShareRequest(ctx, given)
      const r = await ctx.client().post<{ id: string, state: string }>(`/api/v1/share-requests/${encodeURIComponent(id)}/${verb}`)
      emit(ctx, r, () => `${r.id}: ${r.state}`)
    }))
  }

  circle.command('policy <groupId> <policy>').description('auto: answer members\' share requests at once; manual: wait for `cairn circle approve`')
    .action(run(async (given: string, policy: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (!POLICIES.includes(policy)) throw new CairnError('INVALID_INPUT', `policy must be one of ${POLICIES.join(', ')}; got ${policy.slice(0, 40)}`)
      const gid = await resolveGroup(ctx, given)
      const r = await ctx.client().put<{ groupId: string, policy: string }>(`${g(gid)}/approval`, { policy })
      emit(ctx, r, () => `${r.groupId}: ${r.policy}`)
    }))

  circle.command('add-member <groupId> <entityId>').description('add a member: the same key is re-split (the circle must be unsealed)')
    .addOption(new Option('--role <role>', 'the member\'s role').choices(['member', 'admin', 'viewer']).default('member'))
    .action(run(async (given: string, entityId: string, o: { role: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      showGroup(ctx, await ctx.client().post<GroupView>(`${g(gid)}/members`, { entityId, role: o.role }))
    }))

  circle.command('remove-member <groupId> <entityId>').description('remove a member: a new key version, items re-encrypted (the circle must be unsealed)')
    .option('--no-wait', 'return without following the re-encryption')
    .action(run(async (given: string, entityId: string, o: { wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      const v = await ctx.client().del<GroupView & { jobId: string }>(`${g(gid)}/members/${encodeURIComponent(entityId)}`)
      const job = await rotateAndFollow(ctx, v.jobId, o.wait)
      if (ctx.json) emit(ctx, { ...v, job }, () => '')
      else showGroup(ctx, v)
    }))
}
