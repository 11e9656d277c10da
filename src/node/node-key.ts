/**
 * The node key: a libp2p Ed25519 key in <dataDir>/node.key (protobuf, mode 0600).
 * It names the node on the network (peer ID) and signs audit checkpoints. It is
 * not the entity key: a keeper has a node key and no entity at all.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signingKeyFromSeed, type SigningKey } from '../crypto/sign.js'
import { CairnError } from '../util/errors.js'
import { writeFileAtomic } from '../util/fs.js'

export interface NodeKey { privateKey: PrivateKey, peerId: string, signing: SigningKey }

export async function createNodeKey (path: string): Promise<NodeKey> {
  const privateKey = await generateKeyPair('Ed25519')
  writeFileAtomic(path, privateKeyToProtobuf(privateKey), 0o600)
  return toNodeKey(privateKey)
}

export function loadNodeKey (path: string): NodeKey {
  if (!existsSync(path)) throw new CairnError('NOT_INITIALIZED', `no node key at ${path}; run \`cairn init\` (or \`cairn init --keeper\`) first`)
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) !== 0) throw new CairnError('CONFIG', `${path} is readable by others (mode ${mode.toString(8)}); run \`chmod 600 ${path}\``)
  let key: PrivateKey
  try { key = privateKeyFromProtobuf(readFileSync(path)) } catch (e) {
    throw new CairnError('CONFIG', `${path} is not a valid node key: ${(e as Error).message}`)
  }
  if (key.type !== 'Ed25519') throw new CairnError('CONFIG', `${path} holds a ${key.type} key; cairn node keys are Ed25519`)
  return toNodeKey(key)
}

function toNodeKey (privateKey: PrivateKey): NodeKey {
  const raw = privateKey.raw
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), signing: signingKeyFromSeed(raw.subarray(0, 32)) }
}
