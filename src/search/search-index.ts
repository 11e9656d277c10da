/**
 * Full-text search over decrypted items, in an in-memory SQLite FTS5 database
 * (":memory:", temp_store=MEMORY): plaintext never touches disk. Built when the
 * vault unlocks, kept current from `stored` events, dropped on lock.
 *
 * Tables: `docs` (one row per item, contentless: it matches and ranks);
 * `chunks` (the text of an item longer than a chunk, in ~1 KiB pieces:
 * snippets come from one of them); `short` (the text of an item that fits in
 * one chunk, a plain table: most items, which are indexed once, not twice; a
 * hit's snippet comes from its text put in `snip`, an FTS5 table that never
 * commits: the row is rolled back once read). FTS5's snippet() is quadratic
 * in the row it reads (measured here: 0.5 ms for 1 KiB, 13 ms for 4 KiB,
 * minutes for a 440 KB item of one word, during which every request waited),
 * so it only ever reads a chunk.
 *
 * Updates are queued and applied a slice at a time (one transaction per
 * slice), 200 ms after the first or at once beyond DRAIN_AT_OPS / _CHARS: FTS5
 * writes a segment per commit and merges them later, so larger transactions
 * cost less per item (measured: ~105 µs an item at 60 per commit, ~65 at 250,
 * ~50 at 1,000; without the second index of short items, ~45 at 60 and ~30 at 250). A
 * search applies what is queued first: it never misses a write.
 *
 * Invariants:
 * - no search holds the event loop for more than a slice (~10 ms): matching
 *   rows are stepped from JavaScript and the loop is yielded between slices;
 *   index updates are applied in slices too;
 * - a search stops at its time budget and answers what it ranked so far
 *   (`partial: true`): no query can take the node's time hostage;
 * - searches and index updates run one at a time on the connection (a
 *   statement stepped across a yield keeps it busy);
 * - removeGroup() takes effect at once for every search, running or not
 *   (a sealed circle's words are never returned after the seal).
 */
import Database, { type Database as Db, type Statement } from 'better-sqlite3'
import { InvalidInputError } from '../util/errors.js'

export interface SearchHit { itemId: string, groupId: string, snippet: string, score: number }
export interface SearchResult { results: SearchHit[], partial: boolean }

export interface SearchOptions {
  /** Wall-clock budget of one query, ms (default 2,000). */
  budgetMs?: number
  /** Longest synchronous stretch before yielding the event loop, ms (default 10). */
  sliceMs?: number
}

/** Chunk length, characters: snippet() stays under a millisecond at this size. */
const CHUNK_CHARS = 1024
/** Text indexed per item: the 1 MiB item limit with room for meta. */
const MAX_TEXT_CHARS = 2 * 1024 * 1024
const MAX_SNIPPET_CHARS = 300
/** A hit whose text the query did not match (only its type did): the head of its text, characters. */
const HEAD_CHARS = 120
/** Queued text that triggers a drain now rather than after the timer. */
const DRAIN_AT_CHARS = 4 * 1024 * 1024
const DRAIN_AT_OPS = 1000
/** How long the first queued update waits for others to share its transaction, ms. */
const DRAIN_AFTER_MS = 200

/** `chunks` 0: a short item, its text in `short` under the doc's rowid. */
interface Doc { itemId: string, groupId: string, firstChunk: number, chunks: number }
type Op = { put: true, itemId: string, groupId: string, type: string, text: string } | { put: false, itemId: string, groupId: string }

/** One turn of the event loop (its I/O callbacks run meanwhile). */
export const yieldLoop = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

export class SearchIndex {
  private db: Db | undefined
  private s: Record<'putDoc' | 'delDoc' | 'putChunk' | 'delChunks' | 'putShort' | 'delShort' | 'short' | 'putSnip' | 'snip' | 'match' | 'snippet' | 'head', Statement> | undefined
  private docs = new Map<number, Doc>()
  private docOf = new Map<string, number>()
  private byGroup = new Map<string, Set<string>>()
  private nextDoc = 1
  private nextChunk = 1
  /** Updates wait here and are applied in slices, each slice one transaction (FTS5 writes a segment per commit). */
  private pending: Op[] = []
  private pendingChars = 0
  private timer: NodeJS.Timeout | undefined
  /** Serializes everything that uses the connection across awaits. */
  private lane: Promise<unknown> = Promise.resolve()
  private generation = 0
  private readonly budgetMs: number
  private readonly sliceMs: number

  constructor (o: SearchOptions = {}) {
    this.budgetMs = o.budgetMs ?? 2000
    this.sliceMs = o.sliceMs ?? 10
  }

  open (): void {
    if (this.db !== undefined) return
    const db = new Database(':memory:')
    db.pragma('temp_store = MEMORY')
    db.exec(`CREATE VIRTUAL TABLE docs USING fts5(type, text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE chunks USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
             CREATE TABLE short (rowid INTEGER PRIMARY KEY, text TEXT NOT NULL);
             CREATE VIRTUAL TABLE snip USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')`)
    this.db = db
    this.s = {
      putDoc: db.prepare('INSERT INTO docs (rowid, type, text) VALUES (?, ?, ?)'),
      delDoc: db.prepare('DELETE FROM docs WHERE rowid = ?'),
      putChunk: db.prepare('INSERT INTO chunks (rowid, text) VALUES (?, ?)'),
      delChunks: db.prepare('DELETE FROM chunks WHERE rowid >= ? AND rowid < ?'),
      putShort: db.prepare('INSERT INTO short (rowid, text) VALUES (?, ?)'),
      delShort: db.prepare('DELETE FROM short WHERE rowid = ?'),
      short: db.prepare('SELECT text FROM short WHERE rowid = ?').pluck(),
      putSnip: db.prepare('INSERT INTO snip (rowid, text) VALUES (1, ?)'),
      snip: db.prepare(`SELECT snippet(snip, 0, '[', ']', '…', 12) FROM snip WHERE snip MATCH ?`).pluck(),
      match: db.prepare('SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?').raw(true),
      snippet: db.prepare(`SELECT snippet(chunks, 0, '[', ']', '…', 12) FROM chunks WHERE chunks MATCH ? AND rowid >= ? AND rowid < ? ORDER BY rank LIMIT 1`).pluck(),
      head: db.prepare(`SELECT substr(text, 1, ${HEAD_CHARS}) FROM chunks WHERE rowid = ?`).pluck()
    }
  }

  get isOpen (): boolean { return this.db !== undefined }

  put (itemId: string, groupId: string, type: string, content: unknown, meta: unknown): void {
    if (this.s === undefined) return
    const text = textOf([content, meta])
    this.later({ put: true, itemId, groupId, type, text })
  }

  remove (itemId: string): void {
    if (this.s === undefined) return
    this.later({ put: false, itemId, groupId: '' })
  }

  private later (op: Op): void {
    this.pending.push(op)
    this.pendingChars += op.put ? op.text.length : 0
    if (this.pending.length >= DRAIN_AT_OPS || this.pendingChars >= DRAIN_AT_CHARS) { void this.drain() } else if (this.timer === undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; void this.drain() }, DRAIN_AFTER_MS)
      this.timer.unref()
    }
  }

  /** Apply every queued update, a slice at a time, yielding the event loop between slices. */
  drain (): Promise<void> {
    return this.inLane(async () => {
      const gen = this.generation
      while (this.pending.length > 0 && gen === this.generation) {
        this.applySome(performance.now() + this.sliceMs)
        if (this.pending.length > 0) await yieldLoop()
      }
    })
  }

  /** Apply every queued update now, synchronously (tests; never while a search runs). */
  flush (): void {
    while (this.pending.length > 0 && this.db !== undefined) this.applySome(Infinity)
  }

  private applySome (until: number): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.db === undefined) { this.pending = []; this.pendingChars = 0; return }
    let done = 0
    this.db.transaction(() => {
      while (done < this.pending.length) {
        const op = this.pending[done++]!
        if (op.put) { this.pendingChars -= op.text.length; this.apply(op.itemId, op.groupId, op.type, op.text) } else this.applyRemove(op.itemId)
        if (performance.now() >= until) break
      }
    })()
    this.pending.splice(0, done)
  }

  private apply (itemId: string, groupId: string, type: string, text: string): void {
    this.applyRemove(itemId)
    const s = this.s!
    const id = this.nextDoc++
    s.putDoc.run(id, type, text)
    const pieces = chunk(text)
    const first = this.nextChunk
    if (pieces.length === 1) s.putShort.run(id, text); else for (const p of pieces) s.putChunk.run(this.nextChunk++, p)
    this.docs.set(id, { itemId, groupId, firstChunk: first, chunks: pieces.length === 1 ? 0 : pieces.length })
    this.docOf.set(itemId, id)
    let g = this.byGroup.get(groupId)
    if (g === undefined) { g = new Set(); this.byGroup.set(groupId, g) }
    g.add(itemId)
  }

  private applyRemove (itemId: string): void {
    const id = this.docOf.get(itemId)
    if (id === undefined || this.s === undefined) return
    const d = this.docs.get(id)
    this.s.delDoc.run(id)
    if (d !== undefined) {
      if (d.chunks === 0) this.s.delShort.run(id); else this.s.delChunks.run(d.firstChunk, d.firstChunk + d.chunks)
      this.byGroup.get(d.groupId)?.delete(itemId)
    }
    this.docs.delete(id)
    this.docOf.delete(itemId)
  }

  /**
   * Forget a group's items: at once for searches (their documents leave the
   * maps a search resolves hits through), and from the tables in the lane.
   */
  removeGroup (groupId: string): void {
    if (this.db === undefined) return
    this.pending = this.pending.filter(op => !op.put || op.groupId !== groupId)
    this.pendingChars = this.pending.reduce((n, op) => n + (op.put ? op.text.length : 0), 0)
    const ids = [...(this.byGroup.get(groupId) ?? [])]
    this.byGroup.delete(groupId)
    for (const itemId of ids) {
      const id = this.docOf.get(itemId)
      if (id !== undefined) this.docs.get(id)!.groupId = ''
      this.pending.push({ put: false, itemId, groupId })
    }
    void this.drain()
  }

  /**
   * Rank every matching item (bm25), best `limit` first, within the time
   * budget; then a snippet from each hit's best chunk.
   */
  search (q: string, limit: number, groupId?: string): Promise<SearchResult> {
    const match = toMatch(q)
    return this.inLane(async () => {
      const empty = { results: [], partial: false }
      if (this.s === undefined) return empty
      const gen = this.generation
      const deadline = performance.now() + this.budgetMs
      while (this.pending.length > 0) {
        if (gen !== this.generation) return empty
        this.applySome(performance.now() + this.sliceMs)
        await yieldLoop()
      }
      const best: Array<{ doc: number, rank: number }> = []
      let partial = false
      let sliceEnd = performance.now() + this.sliceMs
      const it = this.s.match.iterate(match) as IterableIterator<[number, number]>
      let n = 0
      try {
        for (const [doc, rank] of it) {
          const d = this.docs.get(doc)
          if (d !== undefined && d.groupId !== '' && (groupId === undefined || d.groupId === groupId)) keepBest(best, doc, rank, limit)
          if ((++n & 63) !== 0) continue
          const now = performance.now()
          if (now >= deadline) { partial = true; break }
          if (now >= sliceEnd) {
            await yieldLoop()
            if (gen !== this.generation) return empty
            sliceEnd = performance.now() + this.sliceMs
          }
        }
      } finally { it.return?.() }
      const results: SearchHit[] = []
      const any = match.split(' ').join(' OR ')
      for (const { doc, rank } of best) {
        const d = this.docs.get(doc)
        if (d === undefined || d.groupId === '') continue
        const snip = d.chunks === 0
          ? this.shortSnippet(doc, any)
          : (this.s.snippet.get(any, d.firstChunk, d.firstChunk + d.chunks) as string | undefined) ?? (this.s.head.get(d.firstChunk) as string | undefined) ?? ''
        // bm25 is negative and tiny on small sets (≈1e-6): keep significant digits, not decimals.
        results.push({ itemId: d.itemId, groupId: d.groupId, snippet: snip.slice(0, MAX_SNIPPET_CHARS), score: Number((-rank).toPrecision(4)) })
        if (performance.now() >= sliceEnd) { await yieldLoop(); if (gen !== this.generation) return empty; sliceEnd = performance.now() + this.sliceMs }
      }
      return { results, partial }
    })
  }

  /** A short item's snippet: its text in `snip` for the one query, rolled back (no segment is ever written). */
  private shortSnippet (doc: number, any: string): string {
    const text = this.s!.short.get(doc) as string | undefined
    if (text === undefined) return ''
    const db = this.db!
    db.exec('SAVEPOINT snip')
    try {
      this.s!.putSnip.run(text)
      return (this.s!.snip.get(any) as string | undefined) ?? text.slice(0, HEAD_CHARS)
    } finally { db.exec('ROLLBACK TO snip; RELEASE snip') }
  }

  private inLane<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lane.then(fn, fn)
    this.lane = run.catch(() => {})
    return run
  }

  close (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    // A search paused between slices sees the new generation and stops; its statement is reset by then.
    this.generation++
    this.pending = []
    this.pendingChars = 0
    const db = this.db
    this.db = undefined
    this.s = undefined
    this.docs = new Map()
    this.docOf = new Map()
    this.byGroup = new Map()
    this.nextDoc = 1
    this.nextChunk = 1
    if (db !== undefined) void this.lane.then(() => { db.close() })
  }
}

/** Insert into a list kept sorted by rank (bm25: lower is better), at most `limit` long. */
function keepBest (best: Array<{ doc: number, rank: number }>, doc: number, rank: number, limit: number): void {
  if (best.length >= limit && rank >= best[best.length - 1]!.rank) return
  let i = best.length
  while (i > 0 && best[i - 1]!.rank > rank) i--
  best.splice(i, 0, { doc, rank })
  if (best.length > limit) best.pop()
}

/** Every string, number and boolean in the document, space-separated; iterative and capped. */
function textOf (v: unknown): string {
  const parts: string[] = []
  let size = 0
  const stack: unknown[] = [v]
  while (stack.length > 0 && size < MAX_TEXT_CHARS) {
    const x = stack.pop()
    if (x === null || x === undefined) continue
    if (typeof x === 'object') {
      const children = Array.isArray(x) ? x : Object.values(x as Record<string, unknown>)
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
      continue
    }
    const s = String(x)
    parts.push(s)
    size += s.length + 1
  }
  return parts.join(' ').slice(0, MAX_TEXT_CHARS)
}

/** ~CHUNK_CHARS pieces, cut at a space where there is one, so words stay whole. */
function chunk (text: string): string[] {
  if (text.length <= CHUNK_CHARS) return [text]
  const out: string[] = []
  let i = 0
  while (i < text.length) {
    let end = Math.min(text.length, i + CHUNK_CHARS)
    if (end < text.length) {
      const sp = text.lastIndexOf(' ', end)
      if (sp > i + CHUNK_CHARS / 2) end = sp
    }
    out.push(text.slice(i, end))
    i = end
  }
  return out
}

/** User text → an FTS5 query of quoted terms (AND), so operators in input cannot break the parser. */
function toMatch (q: string): string {
  const terms = q.match(/[\p{L}\p{N}_]+/gu) ?? []
  if (terms.length === 0) throw new InvalidInputError('q must contain at least one word')
  return terms.slice(0, 32).map(t => `"${t}"`).join(' ')
}
