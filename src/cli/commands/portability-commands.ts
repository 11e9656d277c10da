/**
 * `cairn export` and `cairn import`: a person's items out as JSON Lines (decrypted,
 * with provenance) and back into a group. An export written to a file is created
 * with mode 0600: it holds plaintext.
 */
import type { Command } from 'commander'
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import type { ImportResultView } from '../../contract/models.js'
import { CairnError } from '../../util/errors.js'
import { contextOf } from '../context.js'
import { emit, table } from '../output.js'
import { run } from '../run.js'

/** Lines per import request: well under the API's 2 MiB body limit for ordinary items. */
const BATCH_LINES = 200
const BATCH_BYTES = 1024 * 1024


export function portabilityCommands (program: Command): void {
  program.command('export').description('all items you can read, decrypted, with provenance, as JSON Lines (to stdout or a file)')
    .option('-g, --group <groupId>', 'only this group')
    .option('-o, --output <file>', 'write to this file (created with mode 0600) instead of stdout')
    .action(run(async (o: { group?: string, output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      const { headers, body } = await ctx.client().exportItems(o.group !== undefined ? { group: o.group } : {})
      const fd = o.output !== undefined ? openSync(o.output, 'w', 0o600) : 1
      let lines = 0
      try {
        for await (const chunk of body) {
          for (const b of chunk) if (b === 0x0a) lines++
          writeSync(fd, chunk)
        }
      } finally { if (fd !== 1) closeSync(fd) }
      const skipped = (headers.get('x-cairn-skipped') ?? '').split(',').filter(s => s !== '')
      process.stderr.write(`exported ${lines} item(s)${o.output !== undefined ? ` to ${o.output}` : ''}` +
        (skipped.length > 0 ? `; left out ${skipped.length} sealed circle(s): ${skipped.join(', ')} (unseal them to export them)` : '') + '\n')
    }))

  program.command('import <file>').description('import an export (JSON Lines; - for stdin) into a group, keeping provenance links')
    .option('-g, --group <groupId>', 'the group to import into')
    .option('--new-group <name>', 'create a group with this name and import into it')
    .action(run(async (file: string, o: { group?: string, newGroup?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if ((o.group === undefined) === (o.newGroup === undefined)) throw new CairnError('INVALID_INPUT', 'give either --group <groupId> or --new-group <name>')
      const lines = readLines(file)
      const gid = o.group ?? (await ctx.client().createGroup({ name: o.newGroup! })).id
      const total: ImportResultView = { groupId: gid, imported: 0, duplicates: 0, invalid: 0, items: [] }
      for (const batch of batches(lines)) {
        const r = await ctx.client().importItems(gid, batch)
        total.imported += r.imported
        total.duplicates += r.duplicates
        total.invalid += r.invalid
        total.items.push(...r.items)
        if (ctx.tty) process.stderr.write(`\rimported ${total.items.length} of ${lines.length}`)
      }
      if (ctx.tty) process.stderr.write('\n')
      emit(ctx, total, () => [
        table([['group', gid], ['imported', String(total.imported)], ['already there', String(total.duplicates)], ['not importable', String(total.invalid)]]),
        ...total.items.filter(i => i.status === 'invalid').map(i => `  ${i.sourceId ?? '(no id)'}: ${i.reason ?? ''}`)
      ].join('\n'))
    }))
}

/** Every line of the file as JSON; a line that is not JSON stops the import before anything is written. */
function readLines (file: string): Array<Record<string, unknown>> {
  let text: string
  try { text = readFileSync(file === '-' ? 0 : file, 'utf8') } catch (e) { throw new CairnError('INVALID_INPUT', `cannot read ${file}: ${(e as Error).message}`) }
  const out: Array<Record<string, unknown>> = []
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return
    let v: unknown
    try { v = JSON.parse(line) } catch { throw new CairnError('INVALID_INPUT', `line ${i + 1} of ${file} is not JSON; nothing was imported`) }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CairnError('INVALID_INPUT', `line ${i + 1} of ${file} is not a JSON object (an exported item); nothing was imported`)
    out.push(v as Record<string, unknown>)
  })
  if (out.length === 0) throw new CairnError('INVALID_INPUT', `${file} holds no items`)
  return out
}

function * batches<L> (lines: L[]): Generator<L[]> {
  let cur: L[] = []
  let bytes = 0
  for (const l of lines) {
    const n = JSON.stringify(l).length
    if (cur.length > 0 && (cur.length >= BATCH_LINES || bytes + n > BATCH_BYTES)) { yield cur; cur = []; bytes = 0 }
    cur.push(l)
    bytes += n
  }
  if (cur.length > 0) yield cur
}
