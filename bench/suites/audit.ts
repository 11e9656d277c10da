/**
 * audit: verifying the audit log's hash chain (issue 10 and SPEC §8's ratio goal:
 * 1M entries ≤ 5 s, ≤ 2× the SHA-256 floor; the §8 table's older figure is 10 s).
 *
 * Set-up: a node store (src/store/store.ts, real SQLite file with the store's
 * pragmas) and its AuditLog (src/audit/audit-log.ts) with a node signing key,
 * so a signed checkpoint lands every 1,000 entries as on a node. ENTRIES entries
 * are appended through AuditLog.record, 10,000 per transaction, with data shaped
 * like a node's (a group ID, an item or peer ID, a reason).
 *
 * value     AuditLog.verify(): reads every entry back (pages of 5,000), recomputes
 *           and links every hash, verifies every checkpoint signature; ms (median
 *           of RUNS).
 * baseline  SHA-256 (node:crypto) over the same per-entry bytes (tag, previous
 *           hash, seq, time, kind, data: what verify hashes), held in memory, one
 *           hash per entry in a tight loop: the hashing floor, no SQLite, no
 *           parsing; in runs alternating with verify().
 * A second row gives the append rate (entries/s through record(), 10,000 per
 * transaction) beside raw SQLite inserts of rows of the same size.
 */
import { createHash, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { Store } from '../../src/store/store.js'
import { AuditLog } from '../../src/audit/audit-log.js'
import { generateSigningKey } from '../../src/crypto/sign.js'
import { newGroupId } from '../../src/crypto/ids.js'
import { utf8 } from '../../src/crypto/bytes.js'
import type { Suite } from '../lib/types.js'
import { interleaved, msSince, now } from '../lib/timing.js'
import Database from 'better-sqlite3'
import { SQLITE_PRAGMAS } from '../lib/sqlite-baseline.js'
import { fmtNum } from '../lib/format.js'

const BATCH = 10_000
const KINDS = ['share-released', 'item-deleted', 'descriptor-accepted', 'rejected-pushes', 'circle-unsealed']

export const auditSuite: Suite = {
  name: 'audit',
  description: 'AuditLog.verify() over 1,000,000 entries (hash chain + checkpoint signatures) vs SHA-256 of the same bytes in a tight loop',
  async run (ctx) {
    const entries = ctx.quick ? 20_000 : 1_000_000
    const runs = ctx.quick ? 1 : 3
    const store = new Store(join(ctx.tempDir('cairn-bench-audit-'), 'cairn.db'))
    ctx.defer(() => store.close())
    const audit = new AuditLog(store, generateSigningKey())
    const gids = Array.from({ length: 16 }, () => newGroupId())
    const t = now()
    let done = 0
    while (done < entries) {
      const k = Math.min(BATCH, entries - done)
      store.tx(() => {
        for (let i = 0; i < k; i++) {
          const n = done + i
          audit.record(KINDS[n % KINDS.length]!, { groupId: gids[n & 15], itemId: randomUUID(), reason: n % 7 === 0 ? 'stale' : undefined, count: n % 100 })
        }
      })
      done += k
    }
    const appendMs = msSince(t)
    const total = store.auditCount()
    ctx.log(`appended ${total.toLocaleString('en-US')} entries (${entries.toLocaleString('en-US')} + checkpoints) in ${fmtNum(appendMs / 1000)} s`)

    // The bytes verify() hashes, per entry, as in chain.ts entryHash.
    const inputs: Buffer[] = []
    let bytes = 0
    let after = 0
    for (;;) {
      const rows = store.auditList(after, 5000)
      if (rows.length === 0) break
      for (const r of rows) {
        const b = Buffer.concat([utf8('cairn/audit/v1\0'), r.prev, utf8(`${r.seq}\n${r.at}\n${r.kind}\n${r.data}`)])
        inputs.push(b)
        bytes += b.length
        after = r.seq
      }
    }
    const sha = (): number => {
      const t0 = now()
      let x = 0
      for (const b of inputs) x ^= createHash('sha256').update(b).digest()[0]!
      if (x === 256) throw new Error('unreachable')
      return msSince(t0)
    }
    const verify = async (): Promise<number> => {
      const t0 = now()
      const v = await audit.verify()
      const ms = msSince(t0)
      if (!v.ok || v.entries !== total) throw new Error(`audit verify: ${JSON.stringify(v)}`)
      return ms
    }
    const ab = await interleaved(runs, verify, sha)
    ctx.log(`verify ${ab.a.samples.map(x => fmtNum(x)).join(', ')} ms; SHA-256 floor ${ab.b.samples.map(x => fmtNum(x)).join(', ')} ms`)

    // Append floor: the same rows inserted raw into a table of the same shape, same pragmas, 10,000 per tx.
    const db = new Database(join(ctx.tempDir('cairn-bench-audit-raw-'), 'raw.db'))
    ctx.defer(() => db.close())
    for (const p of SQLITE_PRAGMAS) db.pragma(p)
    db.exec('CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL)')
    const ins = db.prepare('INSERT INTO audit (seq, at, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)')
    const rows = store.auditList(0, Math.min(entries, 100_000))
    const many = db.transaction((from: number, to: number) => { for (let i = from; i < to; i++) { const r = rows[i]!; ins.run(r.seq, r.at, r.kind, r.data, r.prev, r.hash) } })
    const tr = now()
    for (let i = 0; i < rows.length; i += BATCH) many(i, Math.min(rows.length, i + BATCH))
    const rawRate = rows.length / (msSince(tr) / 1000)
    return [
      ctx.result({
        name: `audit verify, ${total.toLocaleString('en-US')} entries`,
        value: ab.a.median, unit: 'ms',
        baseline: { name: 'SHA-256 of the same per-entry bytes, in memory, tight loop', value: ab.b.median, unit: 'ms' },
        target: { op: '<=', value: 5_000 },
        notes: `ratio goal ≤ 2 (SPEC §8); ${fmtNum(entries)} entries + ${fmtNum(total - entries)} signed checkpoints; ${fmtNum(bytes / 2 ** 20)} MiB hashed; verify ${ab.a.samples.map(x => fmtNum(x)).join(', ')} ms, floor ${ab.b.samples.map(x => fmtNum(x)).join(', ')} ms`,
        details: { entries: total, bytesHashed: bytes, runs, samples: ab.a.samples.map(Math.round).join(' '), baselineSamples: ab.b.samples.map(Math.round).join(' ') }
      }),
      ctx.result({
        name: `audit append, ${BATCH.toLocaleString('en-US')} per tx`,
        value: entries / (appendMs / 1000), unit: 'entries/s',
        baseline: { name: 'raw better-sqlite3 INSERT of the same rows, 10,000 per tx', value: rawRate, unit: 'rows/s' },
        notes: `AuditLog.record (SHA-256 chain + one INSERT; a signed checkpoint every 1,000) while filling the log: ${fmtNum(appendMs / 1000)} s for ${fmtNum(entries)}`,
        details: { appendMs: Math.round(appendMs) }
      })
    ]
  }
}
