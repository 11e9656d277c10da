/**
 * Purging a group removes its bytes from every file of the store (main file, WAL,
 * shared-memory index), not only its rows — while the store is still open (the
 * state a kill -9 would leave) and after it closed. A plain DELETE, the control,
 * leaves them in the files: that is what the purge is for.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Store } from '../../src/store/store.js'
import { stopAll, tempDir } from '../helpers/cli.js'
import { findNeedles, type Needle } from '../helpers/scan.js'

after(stopAll)

const G = '11111111-1111-4111-8111-111111111111'
const H = '22222222-2222-4222-8222-222222222222'

/** `n` records of a group, ~1.3 KiB each (a few with 40 KiB bodies: overflow pages), each holding a unique marker. */
function fill (s: Store, gid: string, n: number): Needle[] {
  const needles: Needle[] = []
  s.tx(() => {
    for (let i = 0; i < n; i++) {
      const marker = randomBytes(24)
      const bytes = Buffer.concat([randomBytes(i % 50 === 0 ? 40_000 : 600), marker, randomBytes(600)])
      const rid = `${gid.slice(0, 8)}-0000-4000-8000-${String(i).padStart(12, '0')}`
      s.putHead({ gid, rid, kind: 'item', clock: 1024 * (i + 1), kv: 1, signer: Buffer.alloc(32, 1), author: Buffer.alloc(32, 1), tomb: 0, hash: randomBytes(32), bytes, size: bytes.length, received: Date.now() })
      // A superseded version too (member nodes keep them for provenance).
      if (i % 10 === 0) { const old = Buffer.concat([randomBytes(100), marker.subarray(0, 12), randomBytes(16)]); s.pushHistory(gid, rid, 1, randomBytes(32), old) }
      needles.push({ what: `${gid} record ${i}`, bytes: marker })
    }
  })
  return needles
}

test('purgeGroup: the group\'s bytes are in no file of the store, open or closed; another group\'s are untouched', () => {
  const dir = tempDir('cairn-purge-')
  const s = new Store(join(dir, 'cairn.db'))
  const gone = fill(s, G, 600)
  const kept = fill(s, H, 200)
  s.upsertGroup({ gid: G, desc_ver: 1, joined: Date.now(), state: 'active' })
  // Some of G's pages are checkpointed into the main file, later ones only in the WAL.
  s.db.pragma('wal_checkpoint(PASSIVE)')
  fill(s, G, 50).forEach(n => gone.push(n))
  assert.ok(findNeedles(dir, gone).length >= gone.length, 'the harness finds the markers before the purge')

  const r = s.purgeGroup(G)
  assert.equal(r.records, 600 + 65, 'every record and superseded version counted (the second fill replaced 50 heads in place)')
  assert.ok(r.bytes > 600 * 1200)
  assert.equal(s.countGroupRecords(G), 0)
  assert.deepEqual(findNeedles(dir, gone), [], 'while open (what kill -9 would leave)')
  assert.equal(findNeedles(dir, kept).length, kept.length, 'the other group is intact')
  assert.equal(s.countGroupRecords(H), 200)
  assert.equal(s.integrityCheck(), 'ok')
  s.close()
  assert.deepEqual(findNeedles(dir, gone), [], 'after close')
})

test('control: a plain DELETE of the same rows leaves their bytes in the files', () => {
  const dir = tempDir('cairn-purge-control-')
  const s = new Store(join(dir, 'cairn.db'))
  const needles = fill(s, G, 300)
  s.db.prepare('DELETE FROM records WHERE gid = ?').run(G)
  s.db.prepare('DELETE FROM history WHERE gid = ?').run(G)
  assert.ok(findNeedles(dir, needles).length > 0, 'old page images survive in the WAL until a TRUNCATE checkpoint')
  s.close()
})
