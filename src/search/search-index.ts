/**
 * Full-text search over decrypted items, in an in-memory SQLite FTS5 database
 * (":memory:", temp_store=MEMORY): plaintext never touches disk. Built when the
 * vault unlocks, kept current from `stored` events, dropped on lock.
 */
import Database, { type Database as Db, type Statement } from 'better-sqlite3'
import { InvalidInputError } from '../util/errors.js'

export interface SearchHit { itemId: string, groupId: string, snippet: string, score: number }

export class SearchIndex {
  private db: Db | undefined
  private s: { put: Statement, del: Statement, q: Statement, qGroup: Statement } | undefined
  /** item ID → FTS rowid, and group → item IDs: FTS5 cannot index UNINDEXED columns, so deletes go by rowid. */
  private rowids = new Map<string, { rowid: number, groupId: string }>()
  private byGroup = new Map<string, Set<string>>()
  private nextRowid = 1
  /**
   * Index updates wait here and are applied in one transaction (after 50 ms,
   * at 250 pending, or before a search): FTS5 writes a new segment per
   * commit, and one commit per item made its merges stall the event loop
   * (measured: 9% of a circle write's CPU was this index).
   */
  private pending: Array<() => void> = []
  private timer: NodeJS.Timeout | undefined

  open (): void {
    if (this.db !== undefined) return
    const db = new Database(':memory:')
    db.pragma('temp_store = MEMORY')
    db.exec(`CREATE VIRTUAL TABLE items USING fts5(item_id UNINDEXED, group_id UNINDEXED, type, text, tokenize = 'unicode61 remove_diacritics 2')`)
    this.db = db
    this.s = {
      put: db.prepare('INSERT INTO items (rowid, item_id, group_id, type, text) VALUES (?, ?, ?, ?, ?)'),
      del: db.prepare('DELETE FROM items WHERE rowid = ?'),
      q: db.prepare(`SELECT item_id, group_id, snippet(items, 3, '[', ']', '…', 12) AS snippet, bm25(items) AS rank
                     FROM items WHERE items MATCH ? ORDER BY rank LIMIT ?`),
      qGroup: db.prepare(`SELECT item_id, group_id, snippet(items, 3, '[', ']', '…', 12) AS snippet, bm25(items) AS rank
                          FROM items WHERE items MATCH ? AND group_id = ? ORDER BY rank LIMIT ?`)
    }
  }

  get isOpen (): boolean { return this.db !== undefined }

  put (itemId: string, groupId: string, type: string, content: unknown, meta: unknown): void {
    if (this.s === undefined) return
    const text = textOf(content) + (meta !== null && meta !== undefined ? ' ' + textOf(meta) : '')
    this.later(() => { this.apply(itemId, groupId, type, text) })
  }

  remove (itemId: string): void {
    if (this.s === undefined) return
    this.later(() => { this.applyRemove(itemId) })
  }

  private later (op: () => void): void {
    this.pending.push(op)
    if (this.pending.length >= 250) this.flush()
    else if (this.timer === undefined) { this.timer = setTimeout(() => { this.flush() }, 50); this.timer.unref() }
  }

  /** Apply every pending update, in order, in one transaction. */
  flush (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.pending.length === 0 || this.db === undefined) { this.pending = []; return }
    const ops = this.pending
    this.pending = []
    this.db.transaction(() => { for (const op of ops) op() })()
  }

  private apply (itemId: string, groupId: string, type: string, text: string): void {
    this.applyRemove(itemId)
    const rowid = this.nextRowid++
    this.s!.put.run(rowid, itemId, groupId, type, text)
    this.rowids.set(itemId, { rowid, groupId })
    let g = this.byGroup.get(groupId)
    if (g === undefined) { g = new Set(); this.byGroup.set(groupId, g) }
    g.add(itemId)
  }

  private applyRemove (itemId: string): void {
    const e = this.rowids.get(itemId)
    if (e === undefined || this.s === undefined) return
    this.s.del.run(e.rowid)
    this.rowids.delete(itemId)
    this.byGroup.get(e.groupId)?.delete(itemId)
  }

  removeGroup (groupId: string): void {
    this.flush()
    if (this.db === undefined) return
    const ids = [...(this.byGroup.get(groupId) ?? [])]
    this.db.transaction(() => { for (const id of ids) this.applyRemove(id) })()
    this.byGroup.delete(groupId)
  }

  search (q: string, limit: number, groupId?: string): SearchHit[] {
    if (this.s === undefined) return []
    const match = toMatch(q)
    this.flush()
    const rows = (groupId !== undefined ? this.s.qGroup.all(match, groupId, limit) : this.s.q.all(match, limit)) as Array<{ item_id: string, group_id: string, snippet: string, rank: number }>
    // bm25 is negative and tiny on small sets (≈1e-6): keep significant digits, not decimals.
    return rows.map(r => ({ itemId: r.item_id, groupId: r.group_id, snippet: r.snippet, score: Number((-r.rank).toPrecision(4)) }))
  }

  close (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    this.pending = []
    this.db?.close()
    this.db = undefined
    this.s = undefined
    this.rowids = new Map()
    this.byGroup = new Map()
    this.nextRowid = 1
  }
}

function textOf (v: unknown): string {
  if (typeof v === 'string') return v
  if (v === null || v === undefined) return ''
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).map(textOf).join(' ')
  return String(v)
}

/** User text → an FTS5 query of quoted terms (AND), so operators in input cannot break the parser. */
function toMatch (q: string): string {
  const terms = q.match(/[\p{L}\p{N}_]+/gu) ?? []
  if (terms.length === 0) throw new InvalidInputError('q must contain at least one word')
  return terms.slice(0, 32).map(t => `"${t}"`).join(' ')
}
