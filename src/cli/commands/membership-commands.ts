/**
 * `cairn invites`, `cairn invite accept|decline <id>`, `cairn group leave|delete <gid>`
 * (SPEC §7.2, added 2026-12). Deleting asks for confirmation on a terminal
 * unless --yes: it purges the group on every node.
 */
import type { Command } from 'commander'
import { createInterface } from 'node:readline/promises'
import { CairnError } from '../../util/errors.js'
import { contextOf } from '../context.js'
import { emit, table } from '../output.js'
import { run } from '../run.js'

export function membershipCommands (program: Command): void {
  program.command('invites').description('invitations waiting for your answer (nothing of their groups is on this node yet)')
    .action(run(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().listInvites()
      emit(ctx, r, () => r.invites.length === 0 ? 'no invitations' : [
        table([['ID', 'GROUP', 'NAME', 'FROM', 'ROLE', 'RECEIVED', 'EXPIRES'],
          ...r.invites.map(i => [i.id, i.groupId, (i.name ?? '(unreadable)') + (i.circle ? ' (circle)' : ''), i.from, i.role + (i.membershipExpiresAt !== null ? ` until ${i.membershipExpiresAt}` : ''), i.createdAt, i.expiresAt])]),
        '', 'answer with `cairn invite accept <ID>` or `cairn invite decline <ID>`'
      ].join('\n'))
    }))

  const invite = program.command('invite').description('answer an invitation')
  for (const verb of ['accept', 'decline'] as const) {
    invite.command(`${verb} <inviteId>`).description(verb === 'accept' ? 'join the group: your signed answer goes to it, and its admins add you' : 'refuse: the inviter is told, and the invitation is deleted here')
      .action(run(async (id: string, _o: unknown, cmd: Command) => {
        const ctx = contextOf(cmd)
        const r = verb === 'accept' ? await ctx.client().acceptInvite(id) : await ctx.client().declineInvite(id)
        emit(ctx, r, () => verb === 'accept' ? `accepted: group ${r.groupId} arrives as soon as one of its admins' nodes adds you` : `declined: group ${r.groupId}`)
      }))
  }

  const group = program.commands.find(c => c.name() === 'group') ?? program.command('group')
  group.command('leave <groupId>').description('leave a group: this node purges it and shreds its keys; its admins remove you with a new key version')
    .action(run(async (gid: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().leaveGroup(gid)
      emit(ctx, r, () => `left ${gid}: its records are purged from this node and its keys shredded`)
    }))

  group.command('delete <groupId>').description('delete a group you own: every member node and keeper purges it; the ID is refused afterwards')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(run(async (gid: string, o: { yes?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (o.yes !== true && process.stdin.isTTY === true && !ctx.json) {
        const rl = createInterface({ input: process.stdin, output: process.stderr })
        const a = await rl.question(`delete group ${gid} and purge it from every member's node and keeper? [y/N] `)
        rl.close()
        if (!/^y(es)?$/i.test(a.trim())) throw new CairnError('INVALID_INPUT', 'not deleted')
      }
      const r = await ctx.client().deleteGroup(gid)
      emit(ctx, r, () => `deleted ${gid}: purged here; every member node and keeper purges it when it receives the deletion`)
    }))
}
