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

/**
 * Count `stored` events of `gid` (of `kind`) in a node process from now on
 * (bench-controls `watch`): `done` resolves with the harness time at which the
 * `target`-th arrived (and the node's own elapsed ms since the watch began).
 */
export async function watchStored (node: NodeProcessHandle, gid: string, target: number, kind: string | undefined = 'item'): Promise<{ done: Promise<{ at: bigint, childMs: number }>, cancel: () => Promise<void> }> {
  const arrived = new Map<number, { at: bigint, childMs: number }>()
  const waiting = new Map<number, (v: { at: bigint, childMs: number }) => void>()
  const off = node.ctl.on(e => {
    if (e.event !== 'watch') return
    const v = { at: process.hrtime.bigint(), childMs: e.ms as number }
    const w = waiting.get(e.watch as number)
    if (w !== undefined) w(v)
    else arrived.set(e.watch as number, v)
  })
  const { watch } = await node.ctl.call<{ watch: number }>('watch', { gid, target, ...(kind !== undefined ? { kind } : {}) })
  const done = new Promise<{ at: bigint, childMs: number }>(resolve => {
    const v = arrived.get(watch)
    if (v !== undefined) resolve(v)
    else waiting.set(watch, resolve)
  }).finally(off)
  return { done, cancel: async () => { off(); await node.ctl.call('unwatch', { watch }).catch(() => {}) } }
}

/** Sample a process's RSS every `everyMs` until stopped; returns the peak and the samples. */
export function sampleRss (node: { memory: () => { rss: number, hwm: number } | undefined }, everyMs = 100): { stop: () => { peak: number, last: number, hwm: number, samples: number } } {
  let peak = 0
  let last = 0
  let n = 0
  const t = setInterval(() => { const m = node.memory(); if (m !== undefined) { n++; last = m.rss; peak = Math.max(peak, m.rss) } }, everyMs)
  return {
    stop: () => {
      clearInterval(t)
      const m = node.memory()
      if (m !== undefined) { last = m.rss; peak = Math.max(peak, m.rss) }
      return { peak, last, hwm: m?.hwm ?? NaN, samples: n }
    }
  }
}

/** Flags for bench nodes whose anti-entropy timers must not fire during a measurement (a day). */
export const QUIET_TIMERS = { replication: { chatty_interval_seconds: 86_400, taciturn_interval_seconds: 86_400 } }

export interface CatchUp {
  /** Harness time at which the keeper stored the `items`-th item. */
  at: bigint
  /** POST …/sync calls the harness made after the keeper made no progress for STALL_MS. */
  nudges: number
  /** Item counts at which the keeper stalled, and the errors the nudged syncs reported. */
  stalls: Array<{ held: number, errors: string[] }>
}

const STALL_MS = 5000
const POLL_MS = 1000

/**
 * Wait until `keeper` has stored `items` items of `gid` (a watchStored promise
 * made before the catch-up began). If, once it holds the group (descriptor
 * delivered), it stops making progress for STALL_MS —
 * its anti-entropy sessions failed and, with the timers pushed out, nothing
 * would resume them — ask the agent for a sync (POST …/sync: what a user or the
 * next timer would do) and note the stall; give up after `budgetMs`.
 */
export async function awaitCatchUp (agent: NodeProcessHandle, keeper: NodeProcessHandle, gid: string, items: number, done: Promise<{ at: bigint }>, budgetMs: number): Promise<CatchUp> {
  let finished: { at: bigint } | undefined
  void done.then(v => { finished = v })
  const end = Date.now() + budgetMs
  const out: CatchUp = { at: 0n, nudges: 0, stalls: [] }
  let last = -1
  let since = Date.now()
  while (finished === undefined) {
    if (Date.now() > end) throw new Error(`the keeper did not catch up ${items} items within ${budgetMs / 1000} s (held ${last}; stalls: ${JSON.stringify(out.stalls).slice(0, 500)})`)
    // Each poll has the keeper count the group's items (GET /api/v1/groups): at
    // 4 Hz that was a third of a catch-up keeper's profile. Stalls are judged over STALL_MS.
    await sleep(POLL_MS)
    if (finished !== undefined) break
    // Until the descriptor has arrived there is nothing to sync (delivery retries on its own).
    if (last < 0 && !await holdsGroup(keeper, gid)) { since = Date.now(); continue }
    const held = await itemCount(keeper, gid)
    if (held !== last) { last = held; since = Date.now(); continue }
    if (Date.now() - since < STALL_MS) continue
    out.nudges++
    const r = await agent.api.call('POST', `/api/v1/groups/${gid}/sync`)
    const peers = ((r.body as { peers?: Array<{ error?: string }> } | undefined)?.peers ?? (r.body as { error?: { peers?: Array<{ error?: string }> } } | undefined)?.error?.peers ?? [])
    out.stalls.push({ held, errors: peers.map(p => p.error ?? 'ok') })
    since = Date.now()
  }
  out.at = finished.at
  return out
}
