/**
 * Circles of trust end to end: a keeper and several member processes in a full
 * mesh (each started with --bootstrap to the keeper and to every node running
 * before it), a circle created by one of them, and readers for what the tests
 * check from outside the processes — a member's entity key (its vault, opened
 * with the passphrase), the circle descriptors and share envelopes in its
 * cairn.db, audit entries over the API.
 *
 * Every process started here is tracked by test/helpers/cli.ts: after(stopAll).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { entityIdFromPublicKey, publicKeyFromEntityId, type GroupId } from '../../src/crypto/ids.js'
import { signingKeyFromSeed, type SigningKey } from '../../src/crypto/sign.js'
import type { CircleBody, DescBody } from '../../src/records/descriptor.js'
import { fromStore, type DecodedRecord } from '../../src/records/record.js'
import { openShareEnvelope, shareEnvelopeId, type ShareBody } from '../../src/records/share-envelope.js'
import { commitment, shareX } from '../../src/circles/shamir.js'
import { Vault } from '../../src/vault/vault.js'
import { BIN, PASSPHRASE, startNode, tempDir, waitFor, type InitInfo, type NodeProcess } from './cli.js'

/** `cairn init` without blocking the event loop, so several run at once. */
export async function initAsync (o: { keeper?: boolean } = {}): Promise<InitInfo> {
  const dataDir = tempDir('cairn-circle-')
  const p = spawn(process.execPath, [BIN, '--json', '--data-dir', dataDir, 'init', ...(o.keeper === true ? ['--keeper'] : [])], {
    env: { ...process.env, CAIRN_PASSPHRASE: o.keeper === true ? undefined : PASSPHRASE } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  p.stdout.on('data', d => { out += String(d) })
  p.stderr.on('data', d => { err += String(d) })
  const code = await new Promise<number | null>(resolve => p.once('exit', resolve))
  let j: any
  try { j = JSON.parse(out) } catch { j = undefined }
  if (code !== 0 || j === undefined) throw new Error(`cairn init failed (${code}): ${out}${err}`)
  return { dataDir, entityId: j.entityId ?? null, peerId: j.peerId, personalGroupId: j.personalGroupId ?? null }
}

export interface Member {
  name: string
  dataDir: string
  entityId: string
  pub: Uint8Array
  /** Extra environment for this member's process (every start). */
  env: Record<string, string>
  node: NodeProcess | undefined
}

export class CircleCluster {
  /** Log settings for every process started (the plaintext scans want debug logs to look through). */
  logEnv: Record<string, string> = {}

  constructor (readonly keeperDir: string, public keeper: NodeProcess | undefined, readonly members: Member[]) {}

  /** Init a keeper and `names.length` members in parallel, then start them one by one in a full mesh. */
  static async start (names: string[], o: { env?: Record<string, Record<string, string>>, logLevel?: string } = {}): Promise<CircleCluster> {
    const [k, ...ms] = await Promise.all([initAsync({ keeper: true }), ...names.map(async () => await initAsync())])
    const members: Member[] = ms.map((info, i) => ({
      name: names[i]!, dataDir: info.dataDir, entityId: info.entityId!, pub: publicKeyFromEntityId(info.entityId!), env: o.env?.[names[i]!] ?? {}, node: undefined
    }))
    const c = new CircleCluster(k!.dataDir, undefined, members)
    if (o.logLevel !== undefined) c.logEnv = { CAIRN_LOG_LEVEL: o.logLevel }
    // All processes start at once; then each member dials the keeper and every
    // member before it (POST /api/v1/peers), which makes the same full mesh as
    // starting them one by one with --bootstrap, in a fraction of the time.
    // (At most three starting at a time: on a busy 2-core box a start slows down
    // with every process starting beside it.)
    const starts: Array<() => Promise<void>> = [
      async () => { c.keeper = await startNode(k!.dataDir, { keeper: true, env: c.logEnv }) },
      ...members.map(m => async () => { m.node = await startNode(m.dataDir, { env: { ...c.logEnv, ...m.env } }) })
    ]
    await Promise.all([0, 1, 2].map(async () => { for (let f = starts.shift(); f !== undefined; f = starts.shift()) await f() }))
    const keeper = c.keeper!
    await Promise.all(members.map(async (m, i) => {
      for (const to of [keeper.listenAddrs[0]!, ...members.slice(0, i).map(x => x.node!.listenAddrs[0]!)]) await m.node!.ok('POST', '/api/v1/peers', { multiaddr: to })
    }))
    await c.waitMesh()
    return c
  }

  get (name: string): Member {
    const m = this.members.find(x => x.name === name)
    if (m === undefined) throw new Error(`no member ${name}`)
    return m
  }

  /** The running process of a member (throws if it is stopped). */
  n (name: string): NodeProcess {
    const node = this.get(name).node
    if (node === undefined) throw new Error(`${name} is not running`)
    return node
  }

  running (): Member[] { return this.members.filter(m => m.node !== undefined) }

  /** Every data dir: the keeper's and each member's. */
  dataDirs (): string[] { return [this.keeperDir, ...this.members.map(m => m.dataDir)] }

  private addrs (): string[] {
    return [...(this.keeper !== undefined ? [this.keeper.listenAddrs[0]!] : []), ...this.running().map(m => m.node!.listenAddrs[0]!)]
  }

  /** Start (or restart, from the same data dir) a member, bootstrapping to every running node. */
  async startMember (m: Member): Promise<NodeProcess> {
    if (m.node !== undefined) throw new Error(`${m.name} is already running`)
    m.node = await startNode(m.dataDir, { bootstrap: this.addrs(), env: { ...this.logEnv, ...m.env } })
    return m.node
  }

  async stopMember (m: Member): Promise<void> {
    const node = m.node
    if (node === undefined) return
    m.node = undefined
    await node.stop()
  }

  /** Stop every process; `kill9` leaves each store's WAL as it was (the recent pages not yet checkpointed). */
  async stopAllNodes (o: { kill9?: boolean } = {}): Promise<void> {
    const procs = [...this.running().map(m => m.node!), ...(this.keeper !== undefined ? [this.keeper] : [])]
    for (const m of this.members) m.node = undefined
    this.keeper = undefined
    await Promise.all(procs.map(async p => { await (o.kill9 === true ? p.kill9() : p.stop()) }))
  }

  /** Until every running member sees every other running member's entity in GET /api/v1/peers. */
  async waitMesh (among: Member[] = this.running()): Promise<void> {
    for (const m of among) {
      const want = among.filter(x => x !== m)
      let missing: string[] = []
      let redialAt = Date.now() + 2000
      try {
        await waitFor(`${m.name} to see ${want.length} members as peers`, async () => {
          const peers = (await m.node!.ok('GET', '/api/v1/peers')).peers as Array<{ peerId: string, entityId?: string }>
          const seen = new Set(peers.map(p => p.entityId))
          const lost = want.filter(x => !seen.has(x.entityId))
          missing = lost.map(x => x.name)
          // A connection can drop on a loaded box (libp2p's connection monitor);
          // these nodes have no bootstrap list to redial, so the harness does.
          if (lost.length > 0 && Date.now() > redialAt) {
            redialAt = Date.now() + 2000
            for (const x of lost) {
              if (x.node !== undefined && !peers.some(p => p.peerId === x.node!.peerId)) await m.node!.api('POST', '/api/v1/peers', { multiaddr: x.node.listenAddrs[0] })
            }
          }
          return lost.length === 0
        }, 30_000)
      } catch (e) {
        throw new Error(`${(e as Error).message} (missing: ${missing.join(', ')}; peers: ${JSON.stringify((await m.node!.ok('GET', '/api/v1/peers')).peers)})`)
      }
    }
  }

  /** `owner` creates a K-of-N circle with `others`; waits until every member's node holds the descriptor. */
  async createCircle (owner: Member, others: Member[], threshold: number, name = 'circle'): Promise<string> {
    const g = await owner.node!.ok('POST', '/api/v1/groups', { name, circle: { threshold, members: others.map(m => m.entityId) } })
    await this.waitGroup(g.id, [owner, ...others])
    return g.id
  }

  async waitGroup (gid: string, members: Member[], pred: (view: any) => boolean = () => true): Promise<void> {
    for (const m of members) {
      await waitSynced(m, gid, `to hold circle ${gid}`, async () => {
        const r = await m.node!.api('GET', `/api/v1/groups/${gid}`)
        return r.status === 200 && pred(r.json)
      })
    }
  }
}

/**
 * Until `check` holds for what `m` has of a circle. Pushes and the sync on
 * connect normally bring records at once; if a loaded box made one miss, an
 * anti-entropy round (POST …/sync, a user's own remedy) is asked for every few
 * seconds rather than waiting for the periodic one.
 */
export async function waitSynced (m: Member, gid: string, what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  let nudgeAt = Date.now() + 3000
  await waitFor(`${m.name}: ${what}`, async () => {
    if (await check()) return true
    if (Date.now() > nudgeAt) { nudgeAt = Date.now() + 3000; await m.node!.api('POST', `/api/v1/groups/${gid}/sync`) }
    return false
  }, timeoutMs)
}

/** Until `pred` holds for `m`'s raw listing of a circle (ciphertext: readable while sealed). */
export async function waitRaw (m: Member, gid: string, what: string, pred: (items: any[]) => boolean, timeoutMs = 60_000): Promise<void> {
  await waitSynced(m, gid, what, async () => pred((await m.node!.ok('GET', `/api/v1/groups/${gid}/raw?limit=500`)).items), timeoutMs)
}

// ---- audit ----

/** Every audit entry of a node (paged), optionally only those of `kind`. */
export async function auditOf (node: NodeProcess, kind?: string): Promise<any[]> {
  const out: any[] = []
  let since = 0
  for (;;) {
    const { entries } = await node.ok('GET', `/api/v1/audit?since=${since}&limit=1000`)
    out.push(...entries)
    if (entries.length < 1000) break
    since = entries[entries.length - 1].seq
  }
  return kind === undefined ? out : out.filter(e => e.kind === kind)
}

// ---- reading a data dir from the test process ----

/** A member's entity signing key, from its vault (works while the node runs: the file is only read). */
export async function entityKeyOf (dataDir: string): Promise<SigningKey> {
  const v = new Vault(join(dataDir, 'vault.cbor'))
  await v.unlock(PASSPHRASE)
  const key = signingKeyFromSeed(new Uint8Array(v.entityKey().seed))
  v.lock()
  return key
}

/** Every key in a member's vault (opened with the passphrase): group, version, key bytes. */
export async function vaultKeysOf (dataDir: string): Promise<Array<{ gid: string, version: number, key: Uint8Array }>> {
  const v = new Vault(join(dataDir, 'vault.cbor'))
  await v.unlock(PASSPHRASE)
  const out = v.groupIds().flatMap(gid => v.ring(gid)!.list().map(e => ({ gid, version: e.version, key: new Uint8Array(e.key) })))
  out.push({ gid: '(entity seed)', version: -1, key: new Uint8Array(v.entityKey().seed) })
  v.lock()
  return out
}

export function openDb (dataDir: string, o: { readonly?: boolean } = {}): Database.Database {
  return new Database(join(dataDir, 'cairn.db'), { readonly: o.readonly ?? true, fileMustExist: true })
}

/** Every descriptor version of a group in a node's store, by version. */
export function descriptorsIn (dataDir: string, gid: string): DescBody[] {
  const db = openDb(dataDir)
  try {
    const rows = db.prepare('SELECT bytes, hash FROM records WHERE gid = ? AND kind = ?').all(gid, 'desc') as Array<{ bytes: Buffer, hash: Buffer }>
    return rows.map(r => fromStore({ bytes: new Uint8Array(r.bytes), hash: new Uint8Array(r.hash) }, 'desc').rec.b).sort((a, b) => a.ver - b.ver)
  } finally { db.close() }
}

/** The circle part of the latest descriptor for key version `kv`, with that descriptor's version (the split version). */
export function circleFor (descs: DescBody[], kv: number): CircleBody & { sv: number } {
  const d = [...descs].reverse().find(x => x.kv === kv && x.circle !== undefined)
  if (d === undefined) throw new Error(`no circle descriptor for key version ${kv}`)
  return { ...d.circle!, sv: d.ver }
}

/** The share envelope (record) of `to` for key version `kv`, as stored in a node's cairn.db. */
export function shareEnvelopeIn (dataDir: string, gid: string, kv: number, to: Uint8Array): DecodedRecord<ShareBody> | undefined {
  const db = openDb(dataDir)
  try {
    const row = db.prepare('SELECT bytes, hash FROM records WHERE gid = ? AND rid = ? AND kind = ?').get(gid, shareEnvelopeId(gid as GroupId, kv, to), 'share') as { bytes: Buffer, hash: Buffer } | undefined
    return row === undefined ? undefined : fromStore({ bytes: new Uint8Array(row.bytes), hash: new Uint8Array(row.hash) }, 'share')
  } finally { db.close() }
}

export interface OpenedShare { entityId: string, x: number, sv: number, share: Uint8Array }

/** Open a member's own share of (gid, kv) the way its node does: its envelope in its store, its entity key. */
export function openOwnShare (dataDir: string, key: SigningKey, gid: string, kv: number): OpenedShare {
  const r = shareEnvelopeIn(dataDir, gid, kv, key.publicKey)
  if (r === undefined) throw new Error(`no share envelope for key version ${kv} in ${dataDir}`)
  return { entityId: entityIdFromPublicKey(key.publicKey), x: r.rec.b.x, sv: r.rec.b.sv, share: openShareEnvelope(r, key.seed, key.publicKey) }
}

/** Does a share match its holder's commitment in the circle descriptor? */
export function matchesCommitment (gid: string, kv: number, c: CircleBody & { sv: number }, holder: Uint8Array, share: Uint8Array): boolean {
  const entry = c.com.find(([p]) => Buffer.compare(p, holder) === 0)
  return entry !== undefined && entry[1] === shareX(share) && Buffer.compare(entry[2], commitment(gid, kv, c.sv, holder, share)) === 0
}
