/**
 * Many groups on many nodes, for the scale suites (scale-keeper, scale-network):
 * filling a node's data dir with groups of items before its process starts, the
 * CPU share of a node process from /proc, and a node's entity ID.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { loadNodeKey } from '../../src/node/node-key.js'
import { dataPaths } from '../../src/node/paths.js'
import { buildServices } from '../../src/node/services.js'
import { silentLogger } from '../../src/util/logger.js'
import { BENCH_PASSPHRASE, type NodeProcessHandle } from './node.js'
import { contents, itemInput } from './items.js'
import { now, sleep } from './timing.js'

/**
 * In this process, on an initialised entity data dir (not running): create
 * `groups` chatty groups named `<prefix>-<n>` and write `items` items into each
 * through ItemService.create (real sealed, signed records through the gates,
 * one transaction per group, search index closed). Returns the group IDs.
 * Keepers are added later over the HTTP API, as a user does.
 */
export async function fillGroups (dataDir: string, groups: number, items: number, prefix: string): Promise<string[]> {
  const s = buildServices(loadConfig(dataDir, { env: {} }), loadNodeKey(dataPaths(dataDir).nodeKey), silentLogger())
  try {
    await s.unlock(BENCH_PASSPHRASE)
    s.search.close()
    const cs = contents(512)
    const ids: string[] = []
    for (let g = 0; g < groups; g++) {
      const grp = s.groups.create({ name: `${prefix}-${g}`, culture: 'chatty' })
      s.store.tx(() => { for (let i = 0; i < items; i++) s.items.create(grp.id, itemInput(cs[(g * items + i) & 511]!)) })
      ids.push(grp.id)
    }
    return ids
  } finally {
    await s.close()
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux port node runs on). */
const USER_HZ = 100

/** utime + stime of a process, seconds, from /proc/<pid>/stat; undefined off Linux. */
export function procCpuSeconds (pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / USER_HZ
  } catch { return undefined }
}

/** CPU of each node over the same quiet window of `ms`, in % of one core. */
export async function cpuShare (nodes: NodeProcessHandle[], ms: number): Promise<number[]> {
  const t0 = now()
  const c0 = nodes.map(n => procCpuSeconds(n.proc.pid!) ?? NaN)
  await sleep(ms)
  const c1 = nodes.map(n => procCpuSeconds(n.proc.pid!) ?? NaN)
  const wall = Number(now() - t0) / 1e9
  return c1.map((c, i) => 100 * (c - c0[i]!) / wall)
}

/** The entity ID of a running entity node (GET /api/v1/status). */
export async function entityOf (node: NodeProcessHandle): Promise<string> {
  const st = await node.api.ok('GET', '/api/v1/status') as { entityId: string | null }
  if (st.entityId === null) throw new Error(`node ${node.peerId} has no entity`)
  return st.entityId
}

/** Item counts per group held by a node (GET /api/v1/groups; works on keepers). */
export async function heldCounts (node: NodeProcessHandle): Promise<Map<string, number>> {
  const { groups } = await node.api.ok('GET', '/api/v1/groups') as { groups: Array<{ id: string, itemCount: number }> }
  return new Map(groups.map(g => [g.id, g.itemCount]))
}

/** Bytes of every file under `dir` (a node's data dir: store, WAL, keys). */
export function dirBytes (dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    n += e.isDirectory() ? dirBytes(p) : e.isFile() ? statSync(p).size : 0
  }
  return n
}
