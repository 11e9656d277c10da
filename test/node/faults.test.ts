/**
 * Fault injection on real processes: kill -9 during a keeper's catch-up and
 * during a recovery; a full disk (a size-limited tmpfs) during a catch-up; a
 * corrupted SQLite page; a keeper that answers slowly or resets its stream
 * mid-batch. Each ends with no acknowledged item lost, the database's
 * integrity_check ok, and the node working once the fault clears.
 * (kill -9 during rotation: rotation-restart.test.ts; right after a 201:
 * durability.test.ts.) Each test prints its fault figures as diagnostics.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { BIN, cli, initNodeDir, PASSPHRASE, startNode, stopAll, tempDir, waitFor, type NodeProcess } from '../helpers/cli.js'
import { HostilePeer } from '../helpers/replication-hostile.js'
import { seededNode, type SeededNode } from '../helpers/seeded-node.js'
import { mountTmpfs, unmount } from '../helpers/tmpfs.js'
import { DELIVER_PROTOCOL } from '../../src/replication/deliver.js'
import { HELLO_PROTOCOL } from '../../src/replication/hello.js'
import { SYNC_PROTOCOL } from '../../src/replication/sync-protocol.js'

const ITEMS = 1500
let seed: SeededNode
let A: NodeProcess
let K: NodeProcess
let kListen: string
const mounts: string[] = []
const hostile: HostilePeer[] = []
const figures = { faults: 0, lost: 0, integrityChecks: 0, integrityOk: 0 }

async function freePort (): Promise<number> {
  return await new Promise(resolve => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)) }) })
}

/** integrity_check of a stopped node's database. */
function integrity (dataDir: string): string {
  const db = new Database(join(dataDir, 'cairn.db'), { fileMustExist: true })
  try { return String(db.pragma('integrity_check', { simple: true })) } finally { db.close() }
}
function checkIntegrity (dataDir: string): void {
  figures.integrityChecks++
  const r = integrity(dataDir)
  assert.equal(r, 'ok', `integrity_check of ${dataDir}`)
  figures.integrityOk++
}

async function itemCount (n: NodeProcess): Promise<number> { return (await n.ok('GET', '/api/v1/status')).counts.items }

async function hashes (n: NodeProcess, gid: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  let cursor: string | null = null
  do {
    const page: any = await n.ok('GET', `/api/v1/groups/${gid}/raw?limit=1000${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    for (const r of page.items) out.set(r.id, r.hash)
    cursor = page.nextCursor
  } while (cursor !== null)
  return out
}

/** Every acknowledged item of the seed, with its content, on a member node. */
async function lostOn (n: NodeProcess): Promise<number> {
  let lost = 0
  for (let cursor: string | null = null, seen = new Map<string, string>(); ;) {
    const page: any = await n.ok('GET', `/api/v1/groups/${seed.gid}/items?limit=1000${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    for (const it of page.items) seen.set(it.id, it.content)
    cursor = page.nextCursor
    if (cursor === null) { for (const [id, c] of seed.expected) if (seen.get(id) !== c) lost++; return lost }
  }
}

before(async () => {
  seed = await seededNode(ITEMS, { bytes: 1000 })
  A = await startNode(seed.dataDir, { listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`] })
  kListen = `/ip4/127.0.0.1/tcp/${await freePort()}`
  K = await startNode(initNodeDir({ keeper: true }).dataDir, { keeper: true, listen: [kListen] })
})
after(async () => {
  for (const h of hostile) await h.stop().catch(() => {})
  await stopAll()
  for (const m of mounts) unmount(m)
  // eslint-disable-next-line no-console
  console.log(`# fault figures: ${JSON.stringify(figures)}`)
})

test('kill -9 of a keeper during its catch-up: after a restart it holds every record, integrity ok', { timeout: 180_000 }, async (t) => {
  const total = (await hashes(A, seed.gid)).size
  for (const gid of [seed.gid, seed.personalGroupId]) await A.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: K.peerId, multiaddr: K.listenAddrs[0] })
  const at = await waitFor('the catch-up to start', async () => { const n = await itemCount(K); return n > 0 ? n : undefined }, 60_000, 5)
  await K.kill9()
  figures.faults++
  t.diagnostic(`killed at ${at} of ${total} records${at >= total ? ' (the catch-up had already finished)' : ''}`)
  K = await startNode(K.dataDir, { keeper: true, listen: [kListen] })
  await A.ok('POST', `/api/v1/groups/${seed.gid}/sync`).catch(() => {})
  const onA = await hashes(A, seed.gid)
  await waitFor('K to hold every record after the restart', async () => (await hashes(K, seed.gid)).size === onA.size, 90_000, 200)
  assert.deepEqual(await hashes(K, seed.gid), onA)
  await A.ok('POST', `/api/v1/groups/${seed.personalGroupId}/sync`).catch(() => {})
  await K.stop()
  checkIntegrity(K.dataDir)
  K = await startNode(K.dataDir, { keeper: true, listen: [kListen] })
})

test('a full disk during a keeper\'s catch-up: the keeper stays up and refuses cleanly; once space is freed it completes, integrity ok', { timeout: 180_000 }, async (t) => {
  const mount = mountTmpfs(4)
  if (mount === undefined) { t.skip('needs root to mount a tmpfs'); return }
  mounts.push(mount)
  const dir = join(mount, 'keeper')
  const init = cli(['--json', '--data-dir', dir, 'init', '--keeper'])
  assert.equal(init.status, 0, init.stdout + init.stderr)
  const K2 = await startNode(dir, { keeper: true })
  await A.ok('POST', `/api/v1/groups/${seed.gid}/keepers`, { peerId: K2.peerId, multiaddr: K2.listenAddrs[0] })
  const onA = await hashes(A, seed.gid)
  // The catch-up (~4.5 MB of records) cannot fit in 4 MiB: it stops part way.
  let last = -1
  await waitFor('the catch-up to stop growing', async () => { const n = (await hashes(K2, seed.gid)).size; const same = n === last; last = n; return same && n > 0 }, 60_000, 1500)
  figures.faults++
  t.diagnostic(`disk full at ${last} of ${onA.size} records`)
  assert.ok(last < onA.size, 'the disk filled before the catch-up finished')
  assert.equal((await K2.api('GET', '/api/v1/health')).status, 200, 'the keeper answers on a full disk')
  assert.equal(K2.proc.exitCode, null, 'the keeper did not exit')
  // space frees: the tmpfs grows
  assert.equal(spawnSync('mount', ['-o', 'remount,size=64m', mount]).status, 0)
  await waitFor('the catch-up to complete once space is free', async () => {
    await A.api('POST', `/api/v1/groups/${seed.gid}/sync`)
    return (await hashes(K2, seed.gid)).size === onA.size
  }, 90_000, 1000)
  assert.deepEqual(await hashes(K2, seed.gid), onA)
  await K2.stop()
  checkIntegrity(dir)
  await A.ok('DELETE', `/api/v1/groups/${seed.gid}/keepers/${K2.peerId}`)
})

test('kill -9 during a recovery: a second recovery completes and the recovered node holds every acknowledged item', { timeout: 240_000 }, async (t) => {
  const dir = join(tempDir('cairn-recover-'), 'node')
  const p = spawn(process.execPath, [BIN, '--json', '--data-dir', dir, 'recover', '--from', K.listenAddrs[0]!, '--entity', seed.entityId], {
    env: { ...process.env, CAIRN_PASSPHRASE: PASSPHRASE }, stdio: 'ignore'
  })
  const exited = new Promise(resolve => p.once('exit', resolve))
  // kill it once it has started writing the node (its files, wherever it keeps them until done)
  await waitFor('the recovery to start writing', () => existsSync(dir) && readdirSync(dir).length > 0 ? true : (p.exitCode !== null ? true : undefined), 60_000, 5)
  const finished = p.exitCode !== null
  p.kill('SIGKILL')
  await exited
  figures.faults++
  t.diagnostic(`recovery killed ${finished ? 'after it had finished' : 'while it ran'}`)
  let rec = cli(['--json', '--data-dir', dir, 'recover', '--from', K.listenAddrs[0]!, '--entity', seed.entityId], { env: { CAIRN_PASSPHRASE: PASSPHRASE }, timeoutMs: 120_000 })
  let into = dir
  if (rec.status !== 0 && rec.json?.error?.code === 'ALREADY_INITIALIZED') {
    // the killed run left its files in place: recovery says so and a fresh directory works
    t.diagnostic('the killed recovery left a non-empty directory; recovering into a fresh one')
    into = join(tempDir('cairn-recover-'), 'node')
    rec = cli(['--json', '--data-dir', into, 'recover', '--from', K.listenAddrs[0]!, '--entity', seed.entityId], { env: { CAIRN_PASSPHRASE: PASSPHRASE }, timeoutMs: 120_000 })
  }
  assert.equal(rec.status, 0, `recover: ${rec.stdout}${rec.stderr}`)
  const R = await startNode(into, { bootstrap: [K.listenAddrs[0]!] })
  await waitFor('the recovered node to hold every item', async () => (await itemCount(R)) >= seed.expected.size, 60_000, 500)
  const lost = await lostOn(R)
  figures.lost += lost
  assert.equal(lost, 0, 'acknowledged items lost')
  await R.stop()
  checkIntegrity(into)
})

test('a corrupted SQLite page: never a 500, a clear INTEGRITY error naming the way out; the keeper still holds everything', { timeout: 120_000 }, async (t) => {
  await A.stop()
  const path = join(A.dataDir, 'cairn.db')
  const db = new Database(path, { fileMustExist: true })
  const pageSize = Number(db.pragma('page_size', { simple: true }))
  const pages = db.prepare("SELECT pageno FROM dbstat WHERE name = 'records' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[]
  db.close()
  assert.ok(pages.length > 10, 'the records table spans many pages')
  const page = pages[Math.floor(pages.length / 2)]!
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.alloc(pageSize - 200, 0xa5), 0, pageSize - 200, (page - 1) * pageSize + 100)
  closeSync(fd)
  figures.faults++
  t.diagnostic(`page ${page} of ${pages.length} leaf pages of records overwritten`)
  let N: NodeProcess | undefined
  try { N = await startNode(A.dataDir) } catch (e) {
    // refused at start: the error names the damage and the way out
    assert.equal((e as { code?: string }).code, 'INTEGRITY', String(e))
    t.diagnostic('the node refused to start: INTEGRITY')
  }
  if (N !== undefined) {
    // started: every read answers, with the item or a clear error, never a 500
    let bad = 0
    for (const id of [...seed.expected.keys()].slice(0, 300)) {
      const r = await N.api('GET', `/api/v1/items/${id}`)
      assert.ok(r.status < 500, `GET item → ${r.status} ${r.text.slice(0, 200)}`)
      if (r.status !== 200) { assert.equal(r.json.error.code, 'INTEGRITY'); bad++ } else assert.equal(r.json.content, seed.expected.get(id))
    }
    const list = await N.api('GET', `/api/v1/groups/${seed.gid}/items?limit=1000`)
    assert.ok(list.status < 500, `list → ${list.status} ${list.text.slice(0, 200)}`)
    t.diagnostic(`the node started; ${bad} of 300 reads answered INTEGRITY`)
    await N.stop()
  }
  // the way out (cairn recover) is the previous test's: the keeper holds every record
  assert.equal((await hashes(K, seed.gid)).size, seed.expected.size)
})

test('a keeper that answers slowly, then one that resets its stream mid-batch: the member stays responsive and keeps writing; once the keeper behaves it receives everything', { timeout: 180_000 }, async (t) => {
  const M = await startNode(initNodeDir().dataDir)
  const gid = (await M.ok('POST', '/api/v1/groups', { name: 'faulty keeper', culture: 'taciturn' })).id
  const acked = new Set<string>()
  for (let i = 0; i < 200; i++) acked.add((await M.ok('POST', `/api/v1/groups/${gid}/items`, { content: `before ${i} ${'y'.repeat(3000)}` })).id)
  const F = await HostilePeer.create()
  hostile.push(F)
  let mode: 'slow' | 'reset' | 'honest' = 'slow'
  let received = 0
  await F.serve(HELLO_PROTOCOL, async io => { await io.read(); await io.write({ v: 1, peer: F.peerId, keeper: true }) })
  await F.serve(DELIVER_PROTOCOL, async io => { const m = await io.read(); await io.write({ stored: Array.isArray(m?.recs) ? m.recs.length : 0, status: 'ok' }) })
  await F.serve(SYNC_PROTOCOL, async io => {
    await io.read() // the opening turn
    if (mode === 'slow') { await new Promise(resolve => setTimeout(resolve, 25_000)); return }
    await io.write({ r: [[3, 0, 0]] }) // ALL: "send me everything"
    for (let batches = 0; ; batches++) {
      const m = await io.read()
      if (Array.isArray(m?.recs)) {
        if (mode === 'reset') { io.abort(); return } // mid-session, with A's batches in flight
        received += m.recs.length
        continue
      }
      if (Array.isArray(m?.r)) { await io.write({ done: received }); return }
    }
  })
  await F.connect(M.listenAddrs[0]!)
  await M.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: F.peerId, multiaddr: `${F.libp2p.getMultiaddrs()[0]}` })

  for (const m of ['slow', 'reset'] as const) {
    mode = m
    const probe = (async () => {
      let worst = 0
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now()
        acked.add((await M.ok('POST', `/api/v1/groups/${gid}/items`, { content: `during ${m} ${i}` })).id)
        assert.equal((await M.api('GET', '/api/v1/health')).status, 200)
        worst = Math.max(worst, performance.now() - t0)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      return worst
    })()
    const t0 = performance.now()
    const sync = await M.api('POST', `/api/v1/groups/${gid}/sync`)
    const took = performance.now() - t0
    const worst = await probe
    figures.faults++
    assert.ok(sync.status < 500 || sync.json?.error?.code === 'NO_PEERS', `sync → ${sync.status} ${sync.text.slice(0, 200)}`)
    const report = sync.json?.peers?.find((p: { peerId: string }) => p.peerId === F.peerId)
    t.diagnostic(`${m} keeper: sync answered ${sync.status} in ${Math.round(took)} ms (${JSON.stringify(report ?? sync.json).slice(0, 160)}); a write + health took at most ${Math.round(worst)} ms meanwhile`)
    assert.ok(took < 60_000, 'the sync call ended (timeout or reset), not hung')
    assert.ok(sync.status !== 200 || typeof report?.error === 'string', `the member noticed the ${m} keeper: ${JSON.stringify(report)}`)
    assert.ok(worst < 10_000, 'the member kept answering and writing')
  }
  // the fault clears: the keeper reads every batch
  mode = 'honest'
  received = 0
  const sync = await M.ok('POST', `/api/v1/groups/${gid}/sync`)
  const report = sync.peers.find((p: { peerId: string }) => p.peerId === F.peerId)
  t.diagnostic(`honest keeper: ${JSON.stringify(report)}; received ${received}`)
  assert.ok(received >= acked.size, `the keeper received ${received} of ${acked.size} items`)
  const ids = new Set((await M.ok('GET', `/api/v1/groups/${gid}/items?limit=1000`)).items.map((i: { id: string }) => i.id))
  const lost = [...acked].filter(id => !ids.has(id)).length
  figures.lost += lost
  assert.equal(lost, 0)
  await M.stop()
  checkIntegrity(M.dataDir)
})
