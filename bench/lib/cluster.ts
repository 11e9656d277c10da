/**
 * Multi-node set-ups shared by the replication, sync, catch-up and circles
 * suites: polling with a deadline, adding a keeper to a group the way a user
 * does (POST /api/v1/groups/:gid/keepers with its address) and waiting for it to
 * hold the group, and reading counts over the API.
 */
import type { NodeProcessHandle } from './node.js'
import { sleep } from './timing.js'

/** Poll `fn` every `everyMs` until it is truthy; throw naming `what` after `timeoutMs`. */
export async function until<T> (what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`)
    await sleep(everyMs)
  }
}

/** Does `node` hold group `gid` (its API knows the group)? */
export async function holdsGroup (node: NodeProcessHandle, gid: string): Promise<boolean> {
  return (await node.api.call('GET', `/api/v1/groups/${gid}`)).status === 200
}

/** `owner` adds `keeper` to `gid` with its address (descriptor delivered over a stream); resolves when the keeper holds the group. */
export async function addKeeper (owner: NodeProcessHandle, gid: string, keeper: NodeProcessHandle, timeoutMs = 60_000): Promise<void> {
  await owner.api.ok('POST', `/api/v1/groups/${gid}/keepers`, { peerId: keeper.peerId, multiaddr: keeper.multiaddr })
  await until(`keeper ${keeper.peerId} to hold group ${gid}`, () => holdsGroup(keeper, gid), timeoutMs)
}

/** Live item count of a group on a node (GET /api/v1/groups lists itemCount; works on keepers). */
export async function itemCount (node: NodeProcessHandle, gid: string): Promise<number> {
  const { groups } = await node.api.ok('GET', '/api/v1/groups') as { groups: Array<{ id: string, itemCount: number }> }
  return groups.find(g => g.id === gid)?.itemCount ?? 0
}

/** Peer IDs a node is connected to. */
export async function peersOf (node: NodeProcessHandle): Promise<string[]> {
  const { peers } = await node.api.ok('GET', '/api/v1/peers') as { peers: Array<{ peerId: string }> }
  return peers.map(p => p.peerId)
}
