/**
 * Portability: everything a person can read, out as JSON Lines, and back in.
 *
 * Export: one line per live item of each group this node can read (a sealed
 * circle is skipped and named; `--group` of a sealed circle is 423), decrypted,
 * with its provenance chain and the hash of the record it was read from. An
 * item that cannot be read (its record was altered at rest) is a line with
 * `error` instead of content, so nothing goes missing without a word.
 *
 * Import: each line becomes a new item of the target group, written and signed
 * by the importer, keeping the type, content, meta and creation time. Its
 * provenance starts with the exported chain (entries marked `imported`: their
 * hashes and signatures are the source group's, which this node cannot check)
 * followed by an `imported-from` link to the exported item (group, item, record
 * hash, author). A `shared-from` link of the source is kept as the copy's own
 * share link, so an erasure of the shared original still reaches it. A line
 * already imported into the group (same source record hash) is skipped: an
 * import can be run twice without doubling anything.
 */
import { isGroupId, isRecordId, type GroupId } from '../crypto/ids.js'
import type { ImportedFrom, ItemPlain, Json } from '../records/item.js'
import { openItem } from '../records/item.js'
import { fromStore } from '../records/record.js'
import { CairnError, isCairnError } from '../util/errors.js'
import { requireRole, requireVault } from '../groups/access.js'
import type { GroupContext } from '../groups/context.js'
import type { GroupService } from '../groups/group-service.js'
import type { ItemService, ItemView } from './item-service.js'

export type ExportLine = (ItemView & { hash: string, groupName: string | null }) | { id: string, groupId: GroupId, error: { code: string, message: string } }

export interface ImportOutcome { sourceId: string | null, status: 'imported' | 'duplicate' | 'invalid', id?: string, reason?: string }

/** Most provenance entries an imported item carries over (the first 16 and the last 48). */
const MAX_PROV = 64
const PAGE = 500
const ACTIONS = new Set(['created', 'modified', 'reencrypted', 'deleted', 'shared-from', 'imported-from'])

export class Portability {
  constructor (private readonly ctx: GroupContext, private readonly groups: GroupService, private readonly items: ItemService) {}

  /**
   * Which groups an export covers, decided before the first line goes out:
   * the one asked for (404/423 if it cannot be read), or every readable group.
   */
  plan (gid?: GroupId): { groups: GroupId[], skipped: GroupId[] } {
    requireVault(this.ctx)
    if (gid !== undefined) {
      const { chain } = requireRole(this.ctx, gid, 'read')
      this.groups.keyFor(gid, chain.current().kv) // 423 for a sealed circle
      return { groups: [gid], skipped: [] }
    }
    const groups: GroupId[] = []
    const skipped: GroupId[] = []
    for (const g of this.groups.list()) {
      try { this.groups.keyFor(g.id, g.keyVersion); groups.push(g.id) } catch (e) {
        if (!isCairnError(e)) throw e
        skipped.push(g.id)
      }
    }
    return { groups, skipped }
  }

  /** The lines of an export, produced as they are read (one page of records in memory at a time). */
  * lines (groups: GroupId[], skipped: GroupId[]): Generator<string> {
    let count = 0
    for (const gid of groups) {
      const name = this.groups.list().find(g => g.id === gid)?.name ?? null
      let after: { clock: number, rid: string } | undefined
      for (;;) {
        const rows = this.ctx.store.listKind(gid, 'item', PAGE, after)
        if (rows.length === 0) break
        for (const row of rows) {
          after = { clock: row.clock, rid: row.rid }
          if (row.tomb !== 0) continue
          let line: ExportLine
          try { line = { ...this.items.exportView(row), groupName: name } } catch (e) {
            if (!isCairnError(e)) throw e
            line = { id: row.rid, groupId: gid, error: { code: e.code, message: e.message } }
          }
          count++
          yield JSON.stringify(line) + '\n'
        }
      }
    }
    // What left this node, decrypted: a compliance officer asks exactly this.
    this.ctx.audit.record('items-exported', { groups, skipped, count })
  }

  /** Write each line as a new item of `gid` (call inside one transaction). */
  importLines (gid: GroupId, lines: unknown[]): { groupId: GroupId, imported: number, duplicates: number, invalid: number, items: ImportOutcome[] } {
    requireRole(this.ctx, gid, 'write')
    const seen = this.importedHashes(gid)
    const out: ImportOutcome[] = []
    for (const raw of lines) {
      const sourceId = typeof (raw as { id?: unknown })?.id === 'string' ? ((raw as { id: string }).id).slice(0, 64) : null
      let plain: ItemPlain
      try { plain = plainFromLine(raw) } catch (e) {
        if (!isCairnError(e) || e.code !== 'INVALID_INPUT') throw e
        out.push({ sourceId, status: 'invalid', reason: e.message })
        continue
      }
      if (seen.has(plain.imp!.hash)) { out.push({ sourceId, status: 'duplicate' }); continue }
      let w: { id: string }
      try { w = this.items.writeImported(gid, plain) } catch (e) {
        if (!isCairnError(e) || e.code !== 'TOO_LARGE') throw e
        out.push({ sourceId, status: 'invalid', reason: e.message })
        continue
      }
      seen.add(plain.imp!.hash)
      out.push({ sourceId, status: 'imported', id: w.id })
    }
    const count = (s: ImportOutcome['status']): number => out.filter(o => o.status === s).length
    const sources = [...new Set(lines.map(l => (l as { groupId?: unknown })?.groupId).filter((g): g is string => typeof g === 'string' && isGroupId(g)))]
    this.ctx.audit.record('items-imported', { groupId: gid, imported: count('imported'), duplicates: count('duplicate'), invalid: count('invalid'), fromGroups: sources.slice(0, 100) })
    return { groupId: gid, imported: count('imported'), duplicates: count('duplicate'), invalid: count('invalid'), items: out }
  }

  /** Source record hashes of the items already imported into a group. */
  private importedHashes (gid: GroupId): Set<string> {
    const out = new Set<string>()
    let after: { clock: number, rid: string } | undefined
    for (;;) {
      const rows = this.ctx.store.listKind(gid, 'item', PAGE, after)
      if (rows.length === 0) return out
      for (const row of rows) {
        after = { clock: row.clock, rid: row.rid }
        if (row.tomb !== 0) continue
        try {
          const r = fromStore(row, 'item')
          const p = openItem(r, this.groups.keyFor(gid, r.rec.b.kv))
          if (p.imp !== undefined) out.add(p.imp.hash)
        } catch { /* an unreadable item cannot be an earlier import of this line */ }
      }
    }
  }
}

function bad (why: string): CairnError { return new CairnError('INVALID_INPUT', why) }

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max
const hex64 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)

/** An export line → the plaintext of its imported copy. Anything malformed is INVALID_INPUT. */
export function plainFromLine (raw: unknown): ItemPlain {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('a line must be a JSON object (one exported item)')
  const l = raw as Record<string, unknown>
  if ('error' in l) throw bad('this line is an item the export could not read')
  if (!isRecordId(l.id) || !isGroupId(l.groupId)) throw bad('id and groupId must be the exported item\'s IDs')
  if (!hex64(l.hash)) throw bad('hash must be the exported record hash (64 hex digits)')
  if (!str(l.type, 100) || l.type.length === 0) throw bad('type must be a string of 1 to 100 characters')
  if (!('content' in l)) throw bad('content is required')
  const meta = l.meta ?? null
  if (meta !== null && (typeof meta !== 'object' || Array.isArray(meta))) throw bad('meta must be an object or null')
  if (!str(l.author, 100)) throw bad('author must be the exported item\'s author (an entity ID)')
  const created = typeof l.createdAt === 'string' ? Date.parse(l.createdAt) : NaN
  if (!Number.isFinite(created) || created < 0) throw bad('createdAt must be an ISO date')
  if (!Array.isArray(l.provenance) || l.provenance.length > 10_000) throw bad('provenance must be a list')
  const prov = l.provenance.map(checkEntry)
  const kept = prov.length <= MAX_PROV ? prov : [...prov.slice(0, 16), ...prov.slice(-(MAX_PROV - 16))]
  const shared = prov.find(e => e.action === 'shared-from' && e.source !== undefined)?.source
  const imp: ImportedFrom = { group: l.groupId, item: l.id, hash: l.hash, author: l.author, prov: kept }
  return {
    type: l.type, content: l.content as Json, meta: meta as ItemPlain['meta'],
    // The clock of the creation time: wall milliseconds × 1024 (hlc.ts).
    createdAt: Math.floor(created) * 1024,
    ...(shared !== undefined ? { src: { group: shared.groupId, item: shared.itemId, hash: shared.hash } } : {}),
    imp
  }
}

function checkEntry (e: unknown): ImportedFrom['prov'][number] {
  if (e === null || typeof e !== 'object') throw bad('a provenance entry must be an object')
  const x = e as Record<string, unknown>
  if (!str(x.action, 20) || !ACTIONS.has(x.action)) throw bad(`provenance action must be one of ${[...ACTIONS].join(', ')}`)
  if (!str(x.by, 100) || !str(x.at, 40) || !hex64(x.hash) || !str(x.signature, 100) || typeof x.keyVersion !== 'number' || !Number.isSafeInteger(x.keyVersion)) {
    throw bad('a provenance entry needs by, at, hash (64 hex), signature and keyVersion')
  }
  const out: ImportedFrom['prov'][number] = { action: x.action, by: x.by, at: x.at, hash: x.hash, signature: x.signature, keyVersion: x.keyVersion }
  if (x.source !== undefined) {
    const s = x.source as Record<string, unknown> | null
    if (s === null || typeof s !== 'object' || !isGroupId(s.groupId) || !isRecordId(s.itemId) || !hex64(s.hash)) throw bad('a provenance source needs groupId, itemId and hash')
    out.source = { groupId: s.groupId, itemId: s.itemId, hash: s.hash }
  }
  return out
}
