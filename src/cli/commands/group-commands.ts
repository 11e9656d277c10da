import { Option, type Command } from 'commander'
import type { CultureName, GroupView, JobView, ReplicationPeerView, RoleName } from '../../contract/models.js'
import { contextOf, type CliContext } from '../context.js'
import { emit, table } from '../output.js'
import { followJob } from '../progress.js'
import { resolveGroup } from '../resolve.js'
import { run } from '../run.js'
import { CairnError } from '../../util/errors.js'

const ROLES = ['owner', 'admin', 'member', 'viewer']

/** Where the group's records are, per keeper and member node (GET /groups/:gid/replication). */
export function replicationTable (peers: ReplicationPeerView[]): string {
  if (peers.length === 0) return 'no keepers or other member nodes: the records are only here'
  const ago = (t: string | null): string => {
    if (t === null) return 'never'
    const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000))
    return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`
  }
  return table([['REPLICATION', 'PEER', 'CONNECTED', 'DELIVERED', 'BEHIND', 'LAST SYNC', 'LAST ERROR'], ...peers.map(p => [
    p.kind + (p.kind === 'member' && p.entityId !== undefined ? ` ${p.entityId.slice(0, 14)}…` : ''),
    p.peerId ?? '(no node known yet)', p.connected ? 'yes' : 'no', p.delivered ? 'yes' : 'pending', String(p.behind), ago(p.lastSyncAt), p.lastError ?? ''
  ])])
}

export function showGroup (ctx: CliContext, g: GroupView & { jobId?: string }, replication?: ReplicationPeerView[]): void {
  emit(ctx, replication !== undefined ? { ...g, replication } : g, () => [
    table([
      ['group', g.id], ['name', g.name ?? '(sealed)'], ['your role', g.role], ['culture', g.culture + (g.appendOnly ? ', append-only' : '')],
      ['descriptor', `v${g.descriptorVersion}`], ['key', `v${g.keyVersion}`], ...(g.circle !== undefined ? circleRows(g.circle) : []),
      ...(g.jobId !== undefined ? [['re-encryption job', g.jobId]] : [])
    ]),
    '', table([['MEMBER', 'ROLE', 'STATE'], ...g.members.map(m => [m.entityId, m.role, (m.state ?? 'active') + (m.expiresAt !== undefined ? ` until ${m.expiresAt}` : '')])]),
    ...(g.keepers.length > 0 ? ['', table([['KEEPER'], ...g.keepers.map(k => [k])])] : []),
    ...(replication !== undefined ? ['', replicationTable(replication)] : [])
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

/** `--expires`: an ISO date, or a duration from now. */
function expiryOf (v: string): string {
  const m = /^(\d+)(s|m|h|d)$/.exec(v.trim())
  if (m !== null) return new Date(Date.now() + Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']).toISOString()
  const t = Date.parse(v)
  if (!Number.isFinite(t)) throw new CairnError('INVALID_INPUT', '--expires must be an ISO date (2027-01-31T12:00:00Z) or a duration (90s, 30m, 12h, 7d)')
  return new Date(t).toISOString()
}

export async function rotateAndFollow (ctx: CliContext, jobId: string, wait: boolean): Promise<JobView> {
  if (!wait) return await ctx.client().getJob(jobId)
  return await followJob(ctx.client(), jobId, 're-encrypting', ctx.tty)
}

export function groupCommands (program: Command): void {
  const group = program.command('group').description('groups: create, ls (list), show, members, keepers, sync; a group is named by its ID, an unambiguous prefix of it, or its name')

  group.command('create <name>').description('create a shared group (you are its owner)')
    .addOption(new Option('--culture <culture>', 'chatty (push on write) or taciturn (sync only)').choices(['chatty', 'taciturn']).default('chatty'))
    .option('--append-only', 'a signed hash-linked log: no edits or deletes')
    .action(run(async (name: string, o: { culture: string, appendOnly?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      showGroup(ctx, await ctx.client().createGroup({ name, culture: o.culture as CultureName, ...(o.appendOnly === true ? { appendOnly: true } : {}) }))
    }))

  group.command('ls').alias('list').description('groups on this node').action(run(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const r = await ctx.client().listGroups()
    emit(ctx, r, () => r.groups.length === 0 ? 'no groups' : table([['ID', 'NAME', 'ROLE', 'CULTURE', 'KEY', 'MEMBERS', 'KEEPERS', 'ITEMS'],
      ...r.groups.map(g => [g.id, (g.name ?? '(sealed)') + (g.personal ? ' (personal)' : '') + (g.circle ? ' (circle)' : ''), g.role, g.culture, `v${g.keyVersion}`, String(g.memberCount), String(g.keeperCount), String(g.itemCount)])]))
  }))

  group.command('show <groupId>').description('one group: members, keepers, versions, and where its records are (per keeper and member node)').action(run(async (given: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const gid = await resolveGroup(ctx, given)
    const [g, r] = await Promise.all([ctx.client().getGroup(gid), ctx.client().getReplication(gid)])
    showGroup(ctx, g, r.peers)
  }))

  group.command('add-member <groupId> <entityId>').description('invite a member (added, with the group keys, once it accepts), or change a member\'s role; without --multiaddr its node is looked for through your peers and the DHT')
    .addOption(new Option('--role <role>', 'the member\'s role').choices(ROLES).default('member'))
    .option('--multiaddr <addr>', 'where the member\'s node is, if yours has not met it (/ip4/…/tcp/…/p2p/…)')
    .option('--expires <when>', 'end the membership then: an ISO date (2027-01-31T12:00:00Z) or a duration (90s, 30m, 12h, 7d)')
    .action(run(async (given: string, entityId: string, o: { role: string, multiaddr?: string, expires?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      showGroup(ctx, await ctx.client().addMember(gid, { entityId, role: o.role as RoleName, ...(o.multiaddr !== undefined ? { multiaddr: o.multiaddr } : {}), ...(o.expires !== undefined ? { expiresAt: expiryOf(o.expires) } : {}) }))
      if (!ctx.json) process.stdout.write('\ndelivery to the member\'s node is retried until it lands: `cairn group show ' + gid.slice(0, 8) + '` shows where it stands\n')
    }))

  group.command('remove-member <groupId> <entityId>').description('remove a member: the key rotates and items are re-encrypted')
    .option('--no-wait', 'return without following the re-encryption')
    .action(run(async (given: string, entityId: string, o: { wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      const g = await ctx.client().removeMember(gid, entityId)
      // An invitation revoked: nothing to re-encrypt.
      if (g.jobId === '') { emit(ctx, g, () => `invitation of ${entityId} revoked`); return }
      const job = await rotateAndFollow(ctx, g.jobId, o.wait)
      if (ctx.json) emit(ctx, { ...g, job }, () => '')
      else showGroup(ctx, g)
    }))

  group.command('add-keeper <groupId> <peerId>').description('add a keeper node (stores ciphertext it cannot read)')
    .option('--multiaddr <addr>', 'where to reach it')
    .action(run(async (given: string, peerId: string, o: { multiaddr?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      showGroup(ctx, await ctx.client().addKeeper(gid, { peerId, ...(o.multiaddr !== undefined ? { multiaddr: o.multiaddr } : {}) }))
    }))

  group.command('remove-keeper <groupId> <peerId>').description('remove a keeper').action(run(async (given: string, peerId: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const gid = await resolveGroup(ctx, given)
    showGroup(ctx, await ctx.client().removeKeeper(gid, peerId))
  }))

  group.command('verify <groupId>').description('re-check every record of a group: signatures, author rights, and for append-only groups the hash-linked log')
    .action(run(async (given: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().verifyGroup(await resolveGroup(ctx, given))
      emit(ctx, r, () => [
        `${r.ok ? 'group intact' : 'GROUP BROKEN'}: ${r.records} records checked${r.appendOnly ? `; append-only log with ${r.heads.length} head${r.heads.length === 1 ? '' : 's'}${r.unlinked > 0 ? `, ${r.unlinked} entries from before links` : ''}` : ''}`,
        ...(r.appendOnly ? [r.content === 'checked' ? 'entry contents checked against their commitments' : 'entry contents not checked (no key here: a keeper, a locked vault or a sealed circle)'] : []),
        ...(r.heads.length > 0 ? ['', table([['HEAD'], ...r.heads.map(h => [h])])] : []),
        ...(r.problems.length > 0 ? ['', table([['RECORD', 'KIND', 'PROBLEM', 'REF'], ...r.problems.map(p => [p.recordId, p.kind, p.problem, p.ref ?? ''])])] : [])
      ].join('\n'))
      if (!r.ok) process.exitCode = 1
    }))

  group.command('sync <groupId>').description('run anti-entropy with this group\'s peers now').action(run(async (given: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const gid = await resolveGroup(ctx, given)
    const r = await ctx.client().syncGroup(gid)
    emit(ctx, r, () => r.peers.length === 0 ? 'no peers of this group are reachable' : table([['PEER', 'SENT', 'RECEIVED', 'BYTES', 'ROUND TRIPS', 'ERROR'], ...r.peers.map(p => [p.peerId, String(p.sent), String(p.received), String(p.bytes), String(p.roundTrips), p.error ?? ''])]))
  }))

  program.command('rotate <groupId>').description('rotate a group key and re-encrypt its items (progress bar)')
    .option('--no-wait', 'return the job ID without following it')
    .action(run(async (given: string, o: { wait: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      const r = await ctx.client().rotateGroup(gid)
      const job = await rotateAndFollow(ctx, r.jobId, o.wait)
      emit(ctx, job, () => `key rotated; job ${job.id}: ${job.state} (${job.done}/${job.total} items re-encrypted)`)
    }))
}
