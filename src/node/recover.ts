/**
 * `cairn recover --from <multiaddr> --entity <entityId>`: rebuild a lost device
 * from a keeper. Steps: new node key → prove the passphrase to the keeper and
 * fetch the encrypted vault (recover-protocol.ts) → check the vault record's
 * signature and that the entity signed it → open it with the passphrase → start
 * a node that syncs every group the vault holds keys for, from the keeper and
 * then from each group's other peers → stop. The data dir is then a normal node.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { equalBytes, zeroize } from '../crypto/bytes.js'
import { entityIdFromPublicKey, publicKeyFromEntityId } from '../crypto/ids.js'
import { scrypt } from '../crypto/kdf.js'
import { decodeRecord, hasKind } from '../records/record.js'
import { fetchVault } from '../replication/recover-protocol.js'
import { createNetwork } from '../replication/libp2p-node.js'
import { CairnError } from '../util/errors.js'
import { ensureDir } from '../util/fs.js'
import type { Logger } from '../util/logger.js'
import { Vault, recoveryAuthKey, checkPassphrase } from '../vault/vault.js'
import { Daemon } from './daemon.js'
import { writeIdentity } from './identity.js'
import { createNodeKey } from './node-key.js'
import { dataPaths } from './paths.js'

export interface RecoverProgress { phase: 'vault' | 'groups' | 'done', groupsDone: number, groupsTotal: number, records: number }
export interface RecoverResult { entityId: string, peerId: string, personalGroupId: string, dataDir: string, groups: number, items: number, records: number, errors: string[] }

export async function recoverNode (o: { dataDir: string, from: string, entityId: string, passphrase: string, log: Logger, env?: NodeJS.ProcessEnv, onProgress?: (p: RecoverProgress) => void }): Promise<RecoverResult> {
  checkPassphrase(o.passphrase)
  const entity = publicKeyFromEntityId(o.entityId)
  let addr
  try { addr = multiaddr(o.from) } catch { throw new CairnError('INVALID_INPUT', `--from must be a multiaddr with /p2p/<peerId>, e.g. /ip4/1.2.3.4/tcp/9474/p2p/12D3…; got ${o.from.slice(0, 100)}`) }
  const keeperId = /\/p2p\/([^/]+)$/.exec(o.from)?.[1]
  if (keeperId === undefined) throw new CairnError('INVALID_INPUT', '--from must end with /p2p/<peerId> of the keeper')
  if (existsSync(o.dataDir) && readdirSync(o.dataDir).some(f => f !== 'config.toml')) throw new CairnError('ALREADY_INITIALIZED', `${o.dataDir} is not empty; recover into a new directory`)
  const created = !existsSync(o.dataDir)
  ensureDir(o.dataDir)
  try {
    return await recoverInto(o, entity, addr, keeperId)
  } catch (e) {
    // A failed recovery leaves the directory as it found it, so it can be retried.
    for (const f of readdirSync(o.dataDir)) if (f !== 'config.toml') rmSync(join(o.dataDir, f), { recursive: true, force: true })
    if (created) rmSync(o.dataDir, { recursive: true, force: true })
    throw e
  }
}

async function recoverInto (o: Parameters<typeof recoverNode>[0], entity: Uint8Array, addr: ReturnType<typeof multiaddr>, keeperId: string): Promise<RecoverResult> {
  const p = dataPaths(o.dataDir)
  const nodeKey = await createNodeKey(p.nodeKey)

  // 1. The vault, from the keeper.
  o.onProgress?.({ phase: 'vault', groupsDone: 0, groupsTotal: 0, records: 0 })
  const net = await createNetwork({ privateKey: nodeKey.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], bootstrap: [], dht: false, inboundPerSecond: 10, maxConnections: 10, maxRecordBytes: 4 * 1024 * 1024, privateAddresses: true })
  let vaultBytes: Uint8Array
  try {
    try { await net.dial(addr, { signal: AbortSignal.timeout(15_000) }) } catch (e) {
      throw new CairnError('UNAVAILABLE', `cannot reach the keeper at ${o.from}: ${(e as Error).message}`)
    }
    const got = await fetchVault(net, peerIdFromString(keeperId), entity, async params => {
      const key = await scrypt(o.passphrase, params.salt, params)
      const auth = recoveryAuthKey(key, params.salt)
      zeroize(key)
      return auth
    }, 30_000)
    vaultBytes = got.vault
  } finally {
    await net.stop()
  }
  const rec = decodeRecord(vaultBytes)
  if (!hasKind(rec, 'vault') || !equalBytes(rec.rec.s, entity)) throw new CairnError('INTEGRITY', 'the keeper sent a vault not signed by this entity')
  const body = rec.rec.b
  const vault = new Vault(p.vault)
  await vault.adopt(body, o.passphrase)
  if (!equalBytes(vault.entityKey().publicKey, entity)) throw new CairnError('INTEGRITY', 'the vault opened, but holds a different entity key')
  const personalGroupId = vault.personalGroupId()
  const groupIds = vault.groupIds()
  vault.lock()
  writeIdentity(p.identity, { keeper: false, peerId: nodeKey.peerId, entityId: entityIdFromPublicKey(entity), personalGroupId, createdAt: new Date().toISOString() })

  // 2. Every group, from the keeper and then the groups' other peers.
  const d = await Daemon.start({ dataDir: o.dataDir, env: o.env ?? process.env, passphrase: o.passphrase, log: o.log, flags: { api: { port: 0 }, network: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [o.from] } } })
  const errors: string[] = []
  let records = 0
  try {
    const r = d.network().replicator
    await r.dialer.ensureConnected(keeperId, o.from)
    const order = [personalGroupId, ...groupIds.filter(g => g !== personalGroupId)]
    let done = 0
    for (const gid of order) {
      // The keeper serves a group once it has our hello binding; that can lag the
      // connection by a moment, so "not found" is retried briefly.
      let rep = await r.syncPeer(keeperId, gid)
      for (let k = 0; k < 20 && rep.error !== undefined && /not-found/.test(rep.error) && !d.services.registry.has(gid); k++) {
        await sleep(250)
        rep = await r.syncPeer(keeperId, gid)
      }
      records += rep.received
      if (rep.error !== undefined && !/not-found/.test(rep.error)) errors.push(`${gid}: ${rep.error}`)
      for (const peer of r.groupPeers(gid).filter(x => x !== keeperId)) {
        const more = await r.syncPeer(peer, gid)
        records += more.received
      }
      o.onProgress?.({ phase: 'groups', groupsDone: ++done, groupsTotal: order.length, records })
    }
    const missing = order.filter(g => !d.services.registry.has(g))
    if (missing.includes(personalGroupId)) throw new CairnError('UNAVAILABLE', `the keeper at ${o.from} did not serve your personal group; is it one of its keepers? Nothing was kept; try again or another keeper`)
    for (const g of missing) errors.push(`${g}: no peer reachable from here holds this group`)
    const st = d.status()
    o.onProgress?.({ phase: 'done', groupsDone: order.length, groupsTotal: order.length, records })
    return { entityId: o.entityId, peerId: nodeKey.peerId, personalGroupId, dataDir: o.dataDir, groups: st.counts.groups, items: st.counts.items, records, errors }
  } finally {
    await d.stop()
  }
}
