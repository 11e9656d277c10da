/**
 * `cairn recover` interrupted by Ctrl-C (SIGINT) at several moments, with real
 * processes: each time the target directory is left untouched (never half a
 * node), the same command run again resumes, the last run completes, and the
 * recovered node starts and reads every item. No peer of an interrupted run is
 * left in any group's peer list: every run is the same node (one node key),
 * and while recovering it publishes no bind record.
 *
 *   A  the lost device: personal group P (200 items) and group G (30 items), both kept by K
 *   K  keeper
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { BIN, PASSPHRASE, stopAll, tempDir, waitFor } from '../helpers/cli.js'
import { ClusterNode, initAsync, launch, stopCluster } from '../helpers/replication-cluster.js'
import { recoveryWorkDir } from '../../src/node/recover.js'
import { loadNodeKey } from '../../src/node/node-key.js'

const LOOP = ['/ip4/127.0.0.1/tcp/0']
let A: ClusterNode
let K: ClusterNode
let P: string
let G: string
let entity: string
const written = new Map<string, string>() // item id → content

before(async () => {
  const [a, k] = await Promise.all([initAsync(), initAsync({ keeper: true })])
  ;[A, K] = await Promise.all([launch(a.dataDir, { name: 'A', listen: LOOP }), launch(k.dataDir, { name: 'K', keeper: true, listen: LOOP })])
  P = a.personalGroupId!
  entity = a.entityId!
  G = (await A.ok('POST', '/api/v1/groups', { name: 'project' })).id
  for (const gid of [P, G]) await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: K.peerId, multiaddr: K.addr })
  for (const [gid, n] of [[P, 200], [G, 30]] as const) {
    for (let i = 0; i < n; i++) {
      const content = `${gid === P ? 'personal' : 'project'} memory ${i}`
      written.set((await A.ok('POST', `/api/v1/groups/${gid}/items`, { content })).id, content)
    }
  }
  for (const [gid, n] of [[P, 200], [G, 30]] as const) {
    await waitFor(`K to hold ${n} items of ${gid}`, async () => {
      const r = await K.api('GET', `/api/v1/groups/${gid}/raw?limit=1000`)
      return r.status === 200 && r.json.items.filter((i: any) => !i.tombstone).length >= n
    }, 60_000, 200)
  }
  await A.stop() // the device is lost
})

after(async () => { await stopCluster(); await stopAll() })

interface Run { code: Promise<number | null>, out: () => string, err: () => string, kill: (s: NodeJS.Signals) => void }

function recover (dir: string): Run {
  const p = spawn(process.execPath, [BIN, '--json', '--data-dir', dir, 'recover', '--from', K.addr, '--entity', entity], {
    env: { ...process.env, CAIRN_PASSPHRASE: PASSPHRASE }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  p.stdout.on('data', d => { out += String(d) })
  p.stderr.on('data', d => { err += String(d) })
  return { code: new Promise(resolve => p.once('exit', c => resolve(c))), out: () => out, err: () => err, kill: s => p.kill(s) }
}

function recordsIn (work: string): number {
  const path = join(work, 'cairn.db')
  if (!existsSync(path)) return 0
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try { return (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n } finally { db.close() }
  } catch { return 0 }
}

test('recover interrupted by SIGINT at several moments completes when run again; the node reads every item; no stale peer', { timeout: 600_000 }, async (t) => {
  const dir = join(tempDir('cairn-recover-'), 'new-device')
  const work = recoveryWorkDir(dir)
  const moments: Array<[string, () => boolean]> = [
    ['the work directory exists (fetching the vault)', () => existsSync(join(work, 'node.key'))],
    ['the recovering node started (its store exists)', () => existsSync(join(work, 'cairn.db'))],
    ['records are arriving', () => recordsIn(work) >= 20]
  ]
  let peerId: string | undefined
  let interrupted = 0
  for (const [what, when] of moments) {
    const r = recover(dir)
    const reached = await waitFor(`recover to reach: ${what}`, () => when() || r.out() !== '', 120_000, 20).then(() => when())
    if (!reached) {
      // It ended before that moment: only a completed recovery may do that.
      assert.equal(await r.code, 0, `recover ended before "${what}": ${r.err()}${r.out()}`)
      break
    }
    r.kill('SIGINT')
    const code = await r.code
    if (code === 0) break
    interrupted++
    t.diagnostic(`interrupted when ${what}: exit ${code}, ${recordsIn(work)} records kept`)
    assert.equal(code, 130, `exit status after SIGINT: ${r.err()}${r.out()}`)
    assert.equal(JSON.parse(r.out()).error.code, 'INTERRUPTED')
    assert.equal(existsSync(dir) && readdirSync(dir).length > 0, false, 'the target directory is never half a node')
    const id = loadNodeKey(join(work, 'node.key')).peerId
    if (peerId !== undefined) assert.equal(id, peerId, 'every run is the same node')
    peerId = id
  }
  assert.ok(interrupted >= 2, `only ${interrupted} interruptions landed before recovery finished`)

  const last = recover(dir)
  assert.equal(await last.code, 0, `the run after the interruptions: ${last.err()}${last.out()}`)
  const res = JSON.parse(last.out())
  assert.equal(res.resumed, true)
  assert.equal(res.peerId, peerId)
  assert.equal(res.items, written.size)
  assert.equal(existsSync(work), false, 'the work directory became the node')

  const R = await launch(dir, { name: 'R', listen: LOOP })
  for (const [id, content] of written) {
    const r = await R.api('GET', `/api/v1/items/${id}`)
    assert.equal(r.status, 200, `item ${id}: ${r.text}`)
    assert.equal(r.json.content, content)
  }
  // Peer lists: on K and on R, only the lost device A and the recovered node R serve A's entity.
  const allowed = new Set([A.peerId, R.peerId, K.peerId])
  for (const n of [K, R]) {
    for (const gid of [P, G]) {
      const peers = (await n.ok('GET', `/api/v1/groups/${gid}/replication`)).peers
      for (const row of peers) assert.ok(row.peerId === null || allowed.has(row.peerId), `${n.name} lists a stale peer ${row.peerId} in ${gid}`)
    }
  }
  await waitFor('R to be a connected member node on K', async () => {
    const rows = (await K.ok('GET', `/api/v1/groups/${P}/replication`)).peers
    return rows.some((x: any) => x.peerId === R.peerId && x.connected)
  }, 30_000, 200)
})
