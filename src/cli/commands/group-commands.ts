import type { Command } from 'commander'
import type { CultureName, GroupView, JobView, RoleName } from '../../contract/models.js'
import { contextOf, type CliContext } from '../context.js'
import { emit, table } from '../output.js'
import { followJob } from '../progress.js'
import { run } from '../run.js'

export function showGroup (ctx: CliContext, g: GroupView & { jobId?: string }): void {
  emit(ctx, g, () => [
    table([
      ['group', g.id], ['name', g.name ?? '(sealed)'], ['your role', g.role], ['culture', g.culture + (g.appendOnly ? ', append-only' : '')],
      ['descriptor', `v${g.descriptorVersion}`], ['key', `v${g.keyVersion}`], ...(g.circle !== undefined ? circleRows(g.circle) : []),
      ...(g.jobId !== undefined ? [['re-encryption job', g.jobId]] : [])
    ]),
    '', table([['MEMBER', 'ROLE'], ...g.members.map(m => [m.entityId, m.role])]),
    ...(g.keepers.length > 0 ? ['', table([['KEEPER'], ...g.keepers.map(k => [k])])] : [])
  ].join('\n'))
}

/** A circle's threshold, whether it is open on this node (and until when), and an unseal under way. */
function circleRows (c: NonNullable<GroupView['circle']>): string[][] {
  return [
    ['circle', `${c.threshold} of ${c.members.length} shares needed to unseal`],
    ['state', c.unsealed === true ? `unsealed until ${c.expiresAt ?? '?'}` : 'sealed'],
    ...(c.approval !== undefined ? [['your approval', c.approval === 'manual' ? 'manual (requests wait for `cairn circle approve`)' : 'auto']] : []),
    ...(c.pendingUnseal !== undefined ? [['unseal', `pending: ${c.pendingUnseal.collected} of ${c.pendingUnseal.needed}, waiting for ${c.pendingUnseal.waiting.length} holder(s) until ${c.pendingUnseal.deadline}`]] : [])
  ]
}

export async function rotateAndFollow (ctx: CliContext, jobId: string, wait: boolean): Promise<JobView> {
  if (!wait) return await ctx.client().getJob(jobId)
  return await followJob(ctx.client(), jobId, 're-encrypting', ctx.tty)
}

export function groupCommands (program: Command): void {
  const group = program.command('group').description('groups: create, list, show, members, keepers')

  group.command('create <name>').description('create a shared group (you are its owner)')
    .option('--culture <culture>', 'chatty (push on write) or taciturn (sync only)', 'chatty')
    .option('--append-only', 'a signed hash-linked log: no edits or deletes')
    .action(run(async (name: string, o: { culture: string, appendOnly?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().createGroup({ name, culture: o.culture as CultureName, ...(o.appendOnly === true ? { appendOnly: true } : {}) }))
    }))

  group.command('ls').description('groups on this node').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().listGroups()
    emit(ctx, r, () => r.groups.length === 0 ? 'no groups' : table([['ID', 'NAME', 'ROLE', 'CULTURE', 'KEY', 'MEMBERS', 'KEEPERS', 'ITEMS'],
      ...r.groups.map(g => [g.id, (g.name ?? '(sealed)') + (g.personal ? ' (personal)' : '') + (g.circle ? ' (circle)' : ''), g.role, g.culture, `v${g.keyVersion}`, String(g.memberCount), String(g.keeperCount), String(g.itemCount)])]))
  }))

  group.command('show <groupId>').description('one group: members, keepers, versions').action(run(async (gid: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    showGroup(ctx, await ctx.client().getGroup(gid))
  }))

  group.command('add-member <groupId> <entityId>').description('add a member (it receives the group keys)')
    .option('--role <role>', 'owner, admin, member or viewer', 'member')
    .option('--multiaddr <addr>', 'where the member\'s node is, if yours has not met it (/ip4/…/tcp/…/p2p/…)')
    .action(run(async (gid: string, entityId: string, o: { role: string, multiaddr?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().addMember(gid, { entityId, role: o.role as RoleName, ...(o.multiaddr !== undefined ? { multiaddr: o.multiaddr } : {}) }))
    }))

  group.command('remove-member <groupId> <entityId>').description('remove a member: the key rotates and items are re-encrypted')
    .option('--no-wait', 'return without following the re-encryption')
    .action(run(async (gid: string, entityId: string, o: { wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const g = await ctx.client().removeMember(gid, entityId)
      const job = await rotateAndFollow(ctx, g.jobId, o.wait)
      if (ctx.json) emit(ctx, { ...g, job }, () => '')
      else showGroup(ctx, g)
    }))

  group.command('add-keeper <groupId> <peerId>').description('add a keeper node (stores ciphertext it cannot read)')
    .option('--multiaddr <addr>', 'where to reach it')
    .action(run(async (gid: string, peerId: string, o: { multiaddr?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().addKeeper(gid, { peerId, ...(o.multiaddr !== undefined ? { multiaddr: o.multiaddr } : {}) }))
    }))

  group.command('remove-keeper <groupId> <peerId>').description('remove a keeper').action(run(async (gid: string, peerId: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    showGroup(ctx, await ctx.client().removeKeeper(gid, peerId))
  }))

  group.command('sync <groupId>').description('run anti-entropy with this group\'s peers now').action(run(async (gid: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().syncGroup(gid)
    emit(ctx, r, () => r.peers.length === 0 ? 'no peers of this group are reachable' : table([['PEER', 'SENT', 'RECEIVED', 'BYTES', 'ROUND TRIPS', 'ERROR'], ...r.peers.map(p => [p.peerId, String(p.sent), String(p.received), String(p.bytes), String(p.roundTrips), p.error ?? ''])]))
  }))

  program.command('rotate <groupId>').description('rotate a group key and re-encrypt its items (progress bar)')
    .option('--no-wait', 'return the job ID without following it')
    .action(run(async (gid: string, o: { wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().rotateGroup(gid)
      const job = await rotateAndFollow(ctx, r.jobId, o.wait)
      emit(ctx, job, () => `key rotated; job ${job.id}: ${job.state} (${job.done}/${job.total} items re-encrypted)`)
    }))
}
