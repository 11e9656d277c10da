/**
 * Durability: a write acknowledged with 201 survives kill -9. Each round starts
 * the daemon as a process, runs concurrent writers over HTTP, and SIGKILLs the
 * process right after a 201 while other writes are in flight. The crashed files
 * (a copy, so the daemon's own recovery is still exercised) pass
 * `PRAGMA integrity_check` and hold every acknowledged item; after a restart,
 * every item acknowledged in any round reads back with its content.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { initNodeDir, startNode, stopAll, tempDir, type NodeProcess } from '../helpers/cli.js'

after(stopAll)

const ROUNDS = 5
const WRITERS = 6

async function writeUntilKilled (p: NodeProcess, gid: string, round: number, killAfter: number, acked: Map<string, string>): Promise<number> {
  let acks = 0
  let killed = false
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const content = `round ${round} writer ${w} item ${i}`
      let res: Response
      try {
        res = await fetch(`${p.baseUrl}/api/v1/groups/${gid}/items`, {
          method: 'POST',
          headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ content, meta: { round, w, i } }),
          signal: AbortSignal.timeout(20_000)
        })
      } catch { return } // the daemon is gone: this write was never acknowledged
      if (res.status !== 201) {
        await res.text().catch(() => '')
        if (killed) return
        assert.fail(`write answered ${res.status} before the kill`)
      }
      let body: any
      try { body = await res.json() } catch { return } // connection cut mid-body: not an acknowledgement we could read
      acked.set(body.id, content)
      acks++
      if (acks === killAfter && !killed) {
        killed = true
        p.proc.kill('SIGKILL') // right after this 201, other writes still in flight
      }
      if (killed) return
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)))
  await p.kill9()
  return acks
}

function checkCrashedCopy (dataDir: string, gid: string, acked: Map<string, string>): void {
  const copy = tempDir('cairn-crash-copy-')
  for (const f of ['cairn.db', 'cairn.db-wal', 'cairn.db-shm']) if (existsSync(join(dataDir, f))) copyFileSync(join(dataDir, f), join(copy, f))
  const db = new Database(join(copy, 'cairn.db'))
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    const has = db.prepare("SELECT 1 FROM records WHERE gid = ? AND rid = ? AND kind = 'item' AND tomb = 0")
    const missing = [...acked.keys()].filter(id => has.get(gid, id) === undefined)
    assert.deepEqual(missing, [], `${missing.length} acknowledged items are not in the crashed database`)
  } finally { db.close() }
}

test(`kill -9 right after a 201, ${ROUNDS} rounds with ${WRITERS} concurrent writers: every acknowledged item survives`, async () => {
  const info = initNodeDir()
  let p = await startNode(info.dataDir)
  const gid = (await p.ok('POST', '/api/v1/groups', { name: 'durability' })).id
  const acked = new Map<string, string>()
  for (let round = 1; round <= ROUNDS; round++) {
    const killAfter = 5 + round * 7
    const acks = await writeUntilKilled(p, gid, round, killAfter, acked)
    assert.ok(acks >= killAfter, `round ${round}: only ${acks} acknowledgements`)
    checkCrashedCopy(info.dataDir, gid, acked)
    p = await startNode(info.dataDir)
    const missing: string[] = []
    for (const [id, content] of acked) {
      const r = await p.api('GET', `/api/v1/items/${id}`)
      if (r.status !== 200 || r.json.content !== content) missing.push(`${id} → ${r.status} ${r.text.slice(0, 100)}`)
    }
    assert.deepEqual(missing, [], `round ${round}: acknowledged items lost or changed after restart`)
    const list = await p.ok('GET', `/api/v1/groups/${gid}/items?limit=1000`)
    assert.ok(list.items.every((it: any) => it.error === undefined), 'an item written during the crash is unreadable')
  }
  assert.equal(await p.stop(), 0)
  const db = new Database(join(info.dataDir, 'cairn.db'))
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    const n = (db.prepare("SELECT count(*) AS n FROM records WHERE gid = ? AND kind = 'item' AND tomb = 0").get(gid) as { n: number }).n
    assert.ok(n >= acked.size, `${n} items stored, ${acked.size} acknowledged`)
  } finally { db.close() }
})
