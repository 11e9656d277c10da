import type { Command } from 'commander'
import { readFileSync } from 'node:fs'
import { CairnError } from '../../util/errors.js'
import { contextOf, type CliContext } from '../context.js'
import { emit, table } from '../output.js'
import { resolveGroup, resolveItem } from '../resolve.js'
import { run } from '../run.js'
import { auditSubcommands } from './audit-commands.js'

async function groupOrPersonal (ctx: CliContext, g: string | undefined): Promise<string> {
  if (g !== undefined) return await resolveGroup(ctx, g)
  const s = await ctx.client().getStatus()
  if (s.personalGroupId === null) throw new CairnError('INVALID_INPUT', 'give --group <groupId> (this node has no personal group)')
  return s.personalGroupId
}

function parseMeta (m: string | undefined): Record<string, unknown> | undefined {
  if (m === undefined) return undefined
  try {
    const v = JSON.parse(m) as unknown
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object')
    return v as Record<string, unknown>
  } catch { throw new CairnError('INVALID_INPUT', '--meta must be a JSON object, e.g. --meta \'{"source":"chat"}\'') }
}

function contentFrom (arg: string | undefined, file: string | undefined): string {
  if (file !== undefined) {
    try { return readFileSync(file === '-' ? 0 : file, 'utf8') } catch (e) { throw new CairnError('INVALID_INPUT', `cannot read ${file}: ${(e as Error).message}`) }
  }
  if (arg === undefined) throw new CairnError('INVALID_INPUT', 'give the content as an argument, or --file <path> (- for stdin)')
  return arg
}

const short = (s: unknown, n = 60): string => { const t = typeof s === 'string' ? s : JSON.stringify(s); return t.length > n ? t.slice(0, n - 1) + '…' : t }
const PARTIAL_NOTE = '(some matches may be missing: the node is still indexing after its start or unlock, or the query ran out of time; run it again in a moment, or narrow it)'

export function itemCommands (program: Command): void {
  program.command('put [content]').description('write an item (default: your personal group)')
    .option('-g, --group <groupId>', 'group to write into')
    .option('-t, --type <type>', 'item type (new items: note)')
    .option('--meta <json>', 'metadata object')
    .option('-f, --file <path>', 'read the content from a file (- for stdin)')
    .option('--id <itemId>', 'replace this item\'s content instead of creating one (type and meta stay unless given)')
    .option('--corrects <itemId>', 'append-only groups: a new entry correcting this one (reads of it then serve the correction)')
    .option('--redacts <itemId>', 'append-only groups: a new entry redacting this one (its content is no longer served); the content given is the reason')
    .action(run(async (content: string | undefined, o: { group?: string, type?: string, meta?: string, file?: string, id?: string, corrects?: string, redacts?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (o.id !== undefined && (o.corrects !== undefined || o.redacts !== undefined)) throw new CairnError('INVALID_INPUT', '--id replaces an item; --corrects and --redacts add an entry to an append-only group: give one of them')
      const body = {
        content: contentFrom(content, o.file), ...(o.type !== undefined ? { type: o.type } : {}), ...(o.meta !== undefined ? { meta: parseMeta(o.meta) } : {}),
        ...(o.corrects !== undefined ? { corrects: o.corrects } : {}), ...(o.redacts !== undefined ? { redacts: o.redacts } : {})
      }
      const r = o.id !== undefined
        ? await ctx.client().updateItem(await resolveItem(ctx, o.id), body)
        : await ctx.client().createItem(await groupOrPersonal(ctx, o.group), body)
      emit(ctx, r, () => r.id)
    }))

  program.command('get <itemId>').description('read an item, with its provenance (an unambiguous ID prefix will do)').action(run(async (given: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const it = await ctx.client().getItem(await resolveItem(ctx, given))
    emit(ctx, it, () => [
      it.redacted !== undefined ? `(redacted by ${it.redacted.by} at ${it.redacted.at}, entry ${it.redacted.entry})` : typeof it.content === 'string' ? it.content : JSON.stringify(it.content, null, 2), '',
      table([['id', it.id], ['group', it.groupId], ['type', it.type], ['author', it.author], ['created', it.createdAt], ['updated', it.updatedAt], ['key', `v${it.keyVersion}`],
        ...(it.meta !== null ? [['meta', JSON.stringify(it.meta)]] : []), ...it.provenance.map(p => ['provenance', `${p.action} by ${p.by} at ${p.at}`]),
        ...(it.corrected !== undefined ? [['corrected', `by ${it.corrected.by} at ${it.corrected.at} (entry ${it.corrected.entry}); original: ${short(it.corrected.original.content, 80)}`]] : []),
        ...(it.entry !== undefined ? [['log entry', it.entry.commitment], ...it.entry.parents.map(p => ['links', p]), ...(it.entry.corrects !== undefined ? [['corrects', it.entry.corrects]] : []), ...(it.entry.redacts !== undefined ? [['redacts', it.entry.redacts]] : [])] : [])])
    ].join('\n'))
  }))

  program.command('ls').description('list items (newest first)')
    .option('-g, --group <groupId>', 'group (default: personal)')
    .option('-t, --type <type>', 'only this type')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--cursor <cursor>', 'continue from a previous page')
    .action(run(async (o: { group?: string, type?: string, limit: string, cursor?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().listItems(await groupOrPersonal(ctx, o.group), { limit: Number(o.limit), type: o.type, cursor: o.cursor })
      emit(ctx, r, () => (r.items.length === 0 ? 'no items' : table([['ID', 'TYPE', 'UPDATED', 'CONTENT'], ...r.items.map(i => 'error' in i ? [i.id, '!', '', `unreadable: ${i.error.message}`] : [i.id, i.type, i.updatedAt, short(i.content)])])) + (r.nextCursor !== null ? `\nmore: --cursor ${r.nextCursor}` : ''))
    }))

  program.command('raw <groupId>').description('the stored ciphertext envelopes of a group (what a keeper holds)')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--cursor <cursor>', 'continue from a previous page')
    .action(run(async (given: string, o: { limit: string, cursor?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const gid = await resolveGroup(ctx, given)
      const r = await ctx.client().listRaw(gid, { limit: Number(o.limit), cursor: o.cursor })
      emit(ctx, r, () => (r.items.length === 0 ? 'no records' : table([['ID', 'KEY', 'UPDATED', 'SIZE', 'STATE', 'CIPHERTEXT'], ...r.items.map(i => [i.id, `v${i.keyVersion}`, i.updatedAt, `${i.size} B`, i.tombstone ? 'deleted' : 'live', short(i.ciphertext, 40)])])) + (r.nextCursor !== null ? `\nmore: --cursor ${r.nextCursor}` : ''))
    }))

  program.command('rm <itemId>').description('delete an item (a signed tombstone replicates)').action(run(async (given: string, _o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd)
    const id = await resolveItem(ctx, given)
    const r = await ctx.client().deleteItem(id)
    emit(ctx, r, () => `deleted ${id}`)
  }))

  program.command('share <itemId>').description('copy an item into another group (linked to its source)')
    .requiredOption('--to <groupId>', 'target group')
    .action(run(async (given: string, o: { to: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const id = await resolveItem(ctx, given)
      const r = await ctx.client().shareItem(id, await resolveGroup(ctx, o.to))
      emit(ctx, r, () => r.id)
    }))

  program.command('search <query>').description('full-text search over what you can decrypt')
    .option('-g, --group <groupId>', 'only this group')
    .option('-n, --limit <n>', 'how many', '20')
    .action(run(async (query: string, o: { group?: string, limit: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().search(query, { limit: Number(o.limit), ...(o.group !== undefined ? { group: await resolveGroup(ctx, o.group) } : {}) })
      const shown = r.results.length === 0 ? 'no matches' : table([['ITEM', 'GROUP', 'SCORE', 'SNIPPET'], ...r.results.map(h => [h.itemId, h.groupId, String(h.score), h.snippet])])
      emit(ctx, r, () => r.partial ? `${shown}\n${PARTIAL_NOTE}` : shown)
    }))

  const audit = program.command('audit').description('the local audit log: the newest entries (oldest of them first), or those after --since')
    .option('--since <seq>', 'entries after this sequence number, oldest first (to read forward)')
    .option('-n, --limit <n>', 'how many', '50')
    .action(run(async (o: { since?: string, limit: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const r = await ctx.client().listAudit(o.since !== undefined ? { since: Number(o.since), limit: Number(o.limit) } : { order: 'desc', limit: Number(o.limit) })
      // Newest last, as `tail` shows a log: the latest entry is nearest the prompt.
      const entries = o.since !== undefined ? r.entries : [...r.entries].reverse()
      emit(ctx, { entries }, () => entries.length === 0 ? 'no audit entries' : table([['SEQ', 'AT', 'KIND', 'DETAILS'], ...entries.map(e => {
        const { seq, at, kind, hash: _h, prevHash: _p, ...rest } = e
        return [String(seq), at, kind, short(JSON.stringify(rest), 100)]
      })]) + (o.since === undefined && entries.length > 0 && entries[0]!.seq > 1 ? `\nolder: --since ${Math.max(0, entries[0]!.seq - 1 - Number(o.limit))} (or -n with a larger number)` : ''))
    }))
  auditSubcommands(audit)
}
