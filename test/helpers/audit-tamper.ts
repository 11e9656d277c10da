/**
 * What someone with write access to cairn.db can do to the audit table, done
 * directly in SQLite (better-sqlite3 on the file, the daemon stopped): edit an
 * entry, delete one, splice one in, cut the tail, or rewrite the whole log,
 * hashes recomputed and checkpoints re-signed with a key of their own.
 */
import type { Database } from 'better-sqlite3'
import { GENESIS, checkpointMessage, entryHash } from '../../src/audit/chain.js'
import { toHex } from '../../src/crypto/bytes.js'
import { sign, type SigningKey } from '../../src/crypto/sign.js'

interface Row { seq: number, at: number, kind: string, data: string, prev: Buffer, hash: Buffer }

const rows = (db: Database): Row[] => db.prepare('SELECT * FROM audit ORDER BY seq').all() as Row[]

/** Change a value inside one entry's data (hash left as it was). */
export function editEntry (db: Database, seq: number): void {
  const r = db.prepare('SELECT data FROM audit WHERE seq = ?').get(seq) as { data: string } | undefined
  if (r === undefined) throw new Error(`no audit entry ${seq}`)
  const d = JSON.parse(r.data) as Record<string, unknown>
  d.tampered = true
  db.prepare('UPDATE audit SET data = ? WHERE seq = ?').run(JSON.stringify(d), seq)
}

export function deleteEntry (db: Database, seq: number): void {
  if (db.prepare('DELETE FROM audit WHERE seq = ?').run(seq).changes !== 1) throw new Error(`no audit entry ${seq}`)
}

/**
 * Splice a forged entry in at `seq`: later entries move up one, and the forged
 * one links correctly to the entry before it (its hash is recomputed: that
 * needs no key).
 */
export function insertEntry (db: Database, seq: number): void {
  db.transaction(() => {
    const later = (db.prepare('SELECT seq FROM audit WHERE seq >= ? ORDER BY seq DESC').all(seq) as Array<{ seq: number }>)
    for (const r of later) db.prepare('UPDATE audit SET seq = ? WHERE seq = ?').run(r.seq + 1, r.seq)
    const before = db.prepare('SELECT hash, at FROM audit WHERE seq = ?').get(seq - 1) as { hash: Buffer, at: number }
    const data = JSON.stringify({ groupId: '00000000-0000-4000-8000-000000000000', note: 'forged' })
    const hash = entryHash(toHex(before.hash), seq, before.at + 1, 'item-deleted', data)
    db.prepare('INSERT INTO audit (seq, at, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)').run(seq, before.at + 1, 'item-deleted', data, before.hash, Buffer.from(hash, 'hex'))
  })()
}

/** Keep the first `keep` entries. */
export function truncateLog (db: Database, keep: number): void {
  db.prepare('DELETE FROM audit WHERE seq > ?').run(keep)
}

/**
 * Rewrite the whole log without the entries `drop` selects and with `edit`
 * applied to the rest: renumbered, every hash recomputed, every checkpoint
 * re-signed by `key`. Returns how many entries were dropped.
 */
export function rewriteLog (db: Database, key: SigningKey, drop: (kind: string, data: Record<string, unknown>) => boolean, edit: (kind: string, data: Record<string, unknown>) => Record<string, unknown> = (_k, d) => d): number {
  const all = rows(db)
  let prev = GENESIS
  let seq = 0
  let dropped = 0
  db.transaction(() => {
    db.prepare('DELETE FROM audit').run()
    const ins = db.prepare('INSERT INTO audit (seq, at, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)')
    for (const r of all) {
      let data = JSON.parse(r.data) as Record<string, unknown>
      if (drop(r.kind, data)) { dropped++; continue }
      data = edit(r.kind, data)
      seq++
      if (r.kind === 'checkpoint') {
        const head = prev
        data = { upTo: seq - 1, head, sig: toHex(sign(key, checkpointMessage(seq - 1, head))), key: toHex(key.publicKey) }
      }
      const json = JSON.stringify(data)
      const hash = entryHash(prev, seq, r.at, r.kind, json)
      ins.run(seq, r.at, r.kind, json, Buffer.from(prev, 'hex'), Buffer.from(hash, 'hex'))
      prev = hash
    }
  })()
  return dropped
}

/**
 * Recompute prev and hash of every entry from `seq` on, data unchanged: what
 * an editor without the node key does to make an edit link again. Checkpoint
 * data stays as signed.
 */
export function rechainFrom (db: Database, seq: number): void {
  const all = rows(db)
  let prev = seq === 1 ? GENESIS : toHex(all.find(r => r.seq === seq - 1)!.hash)
  const upd = db.prepare('UPDATE audit SET prev = ?, hash = ? WHERE seq = ?')
  db.transaction(() => {
    for (const r of all) {
      if (r.seq < seq) continue
      const hash = entryHash(prev, r.seq, r.at, r.kind, r.data)
      upd.run(Buffer.from(prev, 'hex'), Buffer.from(hash, 'hex'), r.seq)
      prev = hash
    }
  })()
}
