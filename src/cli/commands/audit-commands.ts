/** `cairn audit verify` and `cairn audit export` (the listing itself is `cairn audit`, in item-commands.ts). */
import type { Command } from 'commander'
import type { AuditVerdict } from '../../audit/audit-log.js'
import type { AuditVerifyView } from '../../contract/models.js'
import { CairnError } from '../../util/errors.js'
import { contextOf } from '../context.js'
import { emit } from '../output.js'
import { run } from '../run.js'

const REASONS: Record<string, string> = {
  gap: 'an entry is missing here (deleted)',
  'prev-mismatch': 'this entry does not link to the one before it (inserted or reordered)',
  'hash-mismatch': 'this entry was edited after it was written',
  'checkpoint-malformed': 'a checkpoint does not name the entry before it',
  'checkpoint-mismatch': 'the entries before this checkpoint are not the ones it signed (they were rewritten)',
  'checkpoint-foreign-key': 'a checkpoint is signed by a key that is not this node\'s (the log was rewritten and re-signed)',
  'checkpoint-bad-signature': 'a checkpoint signature does not verify under this node\'s key',
  truncated: 'entries the keepers hold checkpoints for are missing from the local log (its tail was cut)',
  rewritten: 'the local log differs from what the keepers\' checkpoints signed (it was rewritten)',
  'foreign-key': 'the keepers hold checkpoints of this entity signed by another node key'
}

function count (n: number, one: string, many = `${one}s`): string { return `${n} ${n === 1 ? one : many}` }

export function describeVerdict (r: AuditVerifyView): string {
  const lines: string[] = []
  if (r.ok) lines.push(`audit log intact: ${count(r.entries, 'entry', 'entries')}, ${count(r.checkpoints, 'signed checkpoint')} (signed up to entry ${r.signedUpTo})`)
  else lines.push(`AUDIT LOG BROKEN at entry ${r.brokenAt ?? '?'}: ${REASONS[r.reason ?? ''] ?? r.reason ?? ''}`)
  const k = r.keepers
  if (k !== undefined) {
    const where = k.refreshed ? 'fetched from the keepers just now' : `not refreshed (${k.error ?? 'no keeper reachable'}); compared with the copy last synced`
    lines.push(k.noKeeper === true
      ? 'keepers\' copy: none (the personal group has no keeper, so the log is checked against itself only; `cairn group add-keeper` gives it one)'
      : k.ok && k.checkpoints === 0
      ? `keepers' copy: nothing to compare yet (${k.error ?? 'no checkpoint has been copied'})`
      : k.ok
      ? `keepers' copy: ${count(k.checkpoints, 'checkpoint')} up to entry ${k.newestUpTo}, ${k.checkpoints === 1 ? 'it matches' : 'all match'} (${where})`
      : `keepers' copy: MISMATCH at entry ${k.brokenAt ?? '?'} (${k.reason ?? ''}; ${where})`)
  }
  return lines.join('\n')
}

export function auditSubcommands (audit: Command): void {
  audit.command('verify').description('check the hash chain, every checkpoint against this node\'s key, and the keepers\' copy of the checkpoints')
    .option('--file <path>', 'verify an exported log (JSON Lines; - for stdin) instead of the daemon\'s, offline')
    .option('--peer <peerId>', 'with --file: the peer ID of the node that wrote it (default: this node\'s)')
    .action(run(async (o: { file?: string, peer?: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (o.file !== undefined) {
        const peer = o.peer ?? (await ctx.client().getStatus()).peerId
        // Loaded here: it verifies signatures (@libp2p/crypto, ~150 ms to load) that no other verb needs.
        const { verifyAuditFile } = await import('../../node/audit-file.js')
        const r: AuditVerdict = await verifyAuditFile(o.file, peer)
        emit(ctx, r, () => `${o.file === '-' ? 'stdin' : o.file}, written by ${peer}:\n${describeVerdict(r)}`)
        if (!r.ok) process.exitCode = 1
        return
      }
      if (o.peer !== undefined) throw new CairnError('INVALID_INPUT', '--peer goes with --file')
      const r = await ctx.client().verifyAudit()
      emit(ctx, r, () => describeVerdict(r))
      if (!r.ok) process.exitCode = 1
    }))

  audit.command('export').description('the whole audit log as JSON Lines on stdout (one entry per line, checkpoints included)')
    .option('--since <seq>', 'only entries after this sequence number', '0')
    .action(run(async (o: { since: string }, cmd: Command) => {
      const ctx = contextOf(cmd)
      if (!/^\d{1,9}$/.test(o.since)) throw new CairnError('INVALID_INPUT', '--since must be a sequence number (an integer ≥ 0)')
      const { body } = await ctx.client().exportAudit({ since: Number(o.since) })
      for await (const chunk of body) {
        if (!process.stdout.write(chunk)) await new Promise(resolve => process.stdout.once('drain', resolve))
      }
    }))
}
