/**
 * `cairn recover --from <multiaddr> --entity <entityId>`: rebuild a lost device
 * from a keeper. Steps: new node key → prove the passphrase to the keeper and
 * fetch the encrypted vault (recover-protocol.ts) → check the vault record's
 * signature and that the entity signed it → open it with the passphrase → start
 * a node that syncs every group the vault holds keys for, from the keeper and
 * then from each group's other peers → stop. The data dir is then a normal node.
 *
 * Interruptible: everything is built in `.<name>.recovering` beside the target
 * directory and renamed onto it only when complete, so the target is never half
 * a node. Run again after any interruption (Ctrl-C, kill -9, a failure), the
 * same command resumes in that directory with the same node key — so the peer
 * ID the keepers saw is the one that finally runs, never a stranger left in
 * their peer lists — and with what was already fetched. While recovering, the
 * node publishes no bind record and announces nothing in the DHT: the
 * finished node does that at its first start.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, copyFileSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes, zeroize } from '../crypto/bytes.js'
import { entityIdFromPublicKey, publicKeyFromEntityId } from '../crypto/ids.js'
import { scrypt, type Kdf } from '../crypto/kdf.js'
import { RememberedKdf } from '../vault/remembered-kdf.js'
import { decodeRecord, hasKind } from '../records/record.js'
import { fetchVault } from '../replication/recover-protocol.js'
import { createNetwork } from '../replication/libp2p-node.js'
import { CairnError } from '../util/errors.js'
import { ensureDir, writeFileAtomic } from '../util/fs.js'
import type { Logger } from '../util/logger.js'
import { Vault, recoveryAuthKey, checkPassphrase } from '../vault/vault.js'
import { Daemon } from './daemon.js'
import { readIdentity, writeIdentity } from './identity.js'
import { createNodeKey, loadNodeKey, type NodeKey } from './node-key.js'
import { dataPaths, recoveryWorkDir } from './paths.js'

export interface RecoverProgress { phase: 'vault' | 'groups' | 'done', groupsDone: number, groupsTotal: number, records: number }
/** `records`: records this node holds at the end (fetched in this run or a resumed one). */
export interface RecoverResult { entityId: string, peerId: string, personalGroupId: string, dataDir: string, groups: number, items: number, records: number, resumed: boolean, errors: string[] }

export interface RecoverOptions {
  dataDir: string
  from: string
  entityId: string
  passphrase: string
  log: Logger
  env?: NodeJS.ProcessEnv
  onProgress?: (p: RecoverProgress) => void
  /** Abort (Ctrl-C): the node stops cleanly, the work directory stays for the next run. */
  signal?: AbortSignal
  /** The passphrase's key derivation (scrypt); a run derives the vault key with it once. */
  kdf?: Kdf
}

export { recoveryWorkDir }

const MARK = 'recovering.json'

export async function recoverNode (o: RecoverOptions): Promise<RecoverResult> {
  checkPassphrase(o.passphrase)
  const entity = publicKeyFromEntityId(o.entityId)
  let addr
  try { addr = multiaddr(o.from) } catch { throw new CairnError('INVALID_INPUT', `--from must be a multiaddr with /p2p/<peerId>, e.g. /ip4/1.2.3.4/tcp/9474/p2p/12D3…; got ${o.from.slice(0, 100)}`) }
  const keeperId = /\/p2p\/([^/]+)$/.exec(o.from)?.[1]
  if (keeperId === undefined) throw new CairnError('INVALID_INPUT', '--from must end with /p2p/<peerId> of the keeper')
  const target = resolve(o.dataDir)
  if (existsSync(target) && readdirSync(target).some(f => f !== 'config.toml')) {
    const what = existsSync(join(target, 'identity.json')) ? 'already holds a cairn node' : 'is not empty'
    throw new CairnError('ALREADY_INITIALIZED', `${target} ${what}; recover into a new directory`)
  }
  const work = recoveryWorkDir(target)
  const resumed = prepareWorkDir(work, target, o.entityId)
  o.signal?.throwIfAborted()
  // The keeper's proof, opening its vault and the node's unlock: one scrypt, not three.
  const keys = new RememberedKdf(o.kdf)
  let r: Omit<RecoverResult, 'resumed'>
  try { r = await recoverInto({ ...o, dataDir: work, kdf: keys.kdf }, entity, addr, keeperId) } finally { keys.forget() }
  // Complete: the work directory becomes the node.
  rmSync(join(work, MARK), { force: true })
  if (existsSync(target)) rmSync(target, { recursive: true, force: true })
  renameSync(work, target)
  syncDir(dirname(target))
  return { ...r, dataDir: target, resumed }
}

/** Make (or resume) the work directory: keep its node key and store when they belong to this entity. */
function prepareWorkDir (work: string, target: string, entityId: string): boolean {
  let resumed = false
  if (existsSync(work)) {
    let mark: { entityId?: string } = {}
    try { mark = JSON.parse(readFileSync(join(work, MARK), 'utf8')) as { entityId?: string } } catch { /* no mark: nothing worth keeping */ }
    let keyOk = false
    try { loadNodeKey(dataPaths(work).nodeKey); keyOk = true } catch { /* absent or damaged: a new one */ }
    if (mark.entityId === entityId && keyOk) {
      resumed = true
      // What a run fetched (the store) and who it was (the node key) stay; the rest is redone.
      for (const f of readdirSync(work)) if (!['node.key', 'cairn.db', 'cairn.db-wal', 'cairn.db-shm', 'config.toml', MARK].includes(f)) rmSync(join(work, f), { recursive: true, force: true })
    } else {
      rmSync(work, { recursive: true, force: true })
    }
  }
  ensureDir(work)
  if (!resumed) writeFileAtomic(join(work, MARK), JSON.stringify({ entityId, startedAt: new Date().toISOString() }) + '\n', 0o600)
  const cfg = join(target, 'config.toml')
  if (existsSync(cfg) && !existsSync(join(work, 'config.toml'))) copyFileSync(cfg, join(work, 'config.toml'))
  return resumed
}

function syncDir (dir: string): void {
  try { const fd = openSync(dir, 'r'); try { fsyncSync(fd) } finally { closeSync(fd) } } catch { /* best effort on some filesystems */ }
}

async function recoverInto (o: RecoverOptions, entity: Uint8Array, addr: ReturnType<typeof multiaddr>, keeperId: string): Promise<Omit<RecoverResult, 'resumed'>> {
  const p = dataPaths(o.dataDir)
  const nodeKey: NodeKey = existsSync(p.nodeKey) ? loadNodeKey(p.nodeKey) : await createNodeKey(p.nodeKey)
  const kdf = o.kdf ?? scrypt
  const aborted = (): void => { o.signal?.throwIfAborted() }

  // 1. The vault, from the keeper.
  o.onProgress?.({ phase: 'vault', groupsDone: 0, groupsTotal: 0, records: 0 })
  const net = await createNetwork({ privateKey: nodeKey.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false, inboundPerSecond: 10, maxConnections: 10, maxRecordBytes: 4 * 1024 * 1024, privateAddresses: true })
  let vaultBytes: Uint8Array
  try {
    const dialSignal = o.signal !== undefined ? AbortSignal.any([o.signal, AbortSignal.timeout(15_000)]) : AbortSignal.timeout(15_000)
    try { await net.dial(addr, { signal: dialSignal }) } catch (e) {
      aborted()
      throw new CairnError('UNAVAILABLE', `cannot reach the keeper at ${o.from}: ${(e as Error).message}`)
    }
    const got = await fetchVault(net, peerIdFromString(keeperId), entity, async params => {
      const key = await kdf(o.passphrase, params.salt, params)
      const auth = recoveryAuthKey(key, params.salt)
      zeroize(key)
      aborted()
      return auth
    }, 30_000)
    vaultBytes = got.vault
  } finally {
    await net.stop()
  }
  const rec = decodeRecord(vaultBytes)
  if (!hasKind(rec, 'vault') || !equalBytes(rec.rec.s, entity)) throw new CairnError('INTEGRITY', 'the keeper sent a vault not signed by this entity')
  const body = rec.rec.b
  const vault = new Vault(p.vault, { kdf })
  await vault.adopt(body, o.passphrase)
  if (!equalBytes(vault.entityKey().publicKey, entity)) throw new CairnError('INTEGRITY', 'the vault opened, but holds a different entity key')
  const personalGroupId = vault.personalGroupId()
  const groupIds = vault.groupIds()
  vault.lock()
  aborted()
  writeIdentity(p.identity, { keeper: false, peerId: nodeKey.peerId, entityId: entityIdFromPublicKey(entity), personalGroupId, createdAt: readIdentity(p.identity)?.createdAt ?? new Date().toISOString() })

  // 2. Every group, from the keeper and then the groups' other peers.
  const d = await Daemon.start({ dataDir: o.dataDir, env: o.env ?? process.env, passphrase: o.passphrase, log: o.log, recovering: true, kdf, flags: { api: { port: 0 }, network: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [o.from] } } })
  const errors: string[] = []
  let records = 0
  const stopOnAbort = (): void => { void d.stop() }
  o.signal?.addEventListener('abort', stopOnAbort, { once: true })
  try {
    const r = d.network().replicator
    await r.dialer.ensureConnected(keeperId, o.from)
    const order = [personalGroupId, ...groupIds.filter(g => g !== personalGroupId)]
    let done = 0
    for (const gid of order) {
      // The keeper serves a group once it has our hello binding; that can lag the
      // connection by a moment, so "not found" is retried briefly.
      aborted()
      let rep = await r.syncPeer(keeperId, gid)
      for (let k = 0; k < 20 && rep.error !== undefined && /not-found/.test(rep.error) && !d.services.registry.has(gid); k++) {
        aborted()
        await sleep(250)
        rep = await r.syncPeer(keeperId, gid)
      }
      aborted()
      if (rep.error !== undefined && !/not-found/.test(rep.error)) errors.push(`${gid}: ${rep.error}`)
      for (const peer of r.groupPeers(gid).filter(x => x !== keeperId)) {
        aborted()
        await r.syncPeer(peer, gid)
      }
      records = held(d)
      o.onProgress?.({ phase: 'groups', groupsDone: ++done, groupsTotal: order.length, records })
    }
    const missing = order.filter(g => !d.services.registry.has(g))
    if (missing.includes(personalGroupId)) throw new CairnError('UNAVAILABLE', `the keeper at ${o.from} did not serve your personal group; is it one of its keepers? Nothing was kept; try again or another keeper`)
    for (const g of missing) errors.push(`${g}: no peer reachable from here holds this group`)
    aborted()
    const st = d.status()
    records = held(d)
    o.onProgress?.({ phase: 'done', groupsDone: order.length, groupsTotal: order.length, records })
    return { entityId: o.entityId, peerId: nodeKey.peerId, personalGroupId, dataDir: o.dataDir, groups: st.counts.groups, items: st.counts.items, records, errors }
  } finally {
    o.signal?.removeEventListener('abort', stopOnAbort)
    await d.stop()
  }
}

/** Records of every group held (items, descriptors, keys, bindings): what the node now keeps. */
function held (d: Daemon): number {
  return d.services.store.listGroups().reduce((n, g) => n + d.services.store.countGroupRecords(g.gid), 0)
}
