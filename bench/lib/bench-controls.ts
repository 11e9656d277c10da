/**
 * What the harness may ask of a node process beside its HTTP API (over IPC,
 * see daemon-child.ts and ipc.ts). Observation and baselines only: nothing here
 * changes how the node replicates, syncs or answers.
 *
 *  stats                      RSS, peak RSS (VmHWM), V8 heaps of this process's main
 *                             thread and of its verifier workers, ArrayBuffers, the
 *                             store's WAL size and page-cache bounds (memory.ts SelfMemory)
 *  multiaddrs                 the libp2p listen addresses (with /p2p/<peerId>)
 *  watch {gid, kind?, target} count `stored` events of a group from now on; emits
 *                             {event:'watch', watch, count, ms} when `target` is reached
 *                             (`ms`: since the watch began, this process's clock)
 *  unwatch {watch}            stop counting
 *  drop-sync-index {gid}      forget the group's sync index, in memory and saved: the
 *                             next anti-entropy session rebuilds it from the store (a cold sync)
 *  unload-sync-index {gid}    save the group's sync index to the store and free it from
 *                             memory, as a stop does: the next session loads it back
 *                             (with its checks) as the first one after a restart would
 *  protocols                  register the bench's raw-stream protocols (below)
 *  echo {peers, need}         open a fresh stream to each peer, send ~200 B, wait for
 *                             `need` ~150 B answers: one request/response round trip
 *                             per peer, as the share protocol does (minus its crypto)
 *  blast {peer, gid}          send every record of the group, in the sync protocol's
 *                             framing (CBOR {recs} batches of ~1 MiB), over ONE stream;
 *                             the receiver only decodes and counts (no verify, no store)
 *                             and emits {event:'blast', records, bytes}
 *  idlist {peer, gid}         the naive anti-entropy: send the hash of every record of
 *                             the group (32 B each, chunks of 2,048) over one fresh
 *                             stream; the receiver reads its own hashes of the group,
 *                             diffs, and answers with the hashes each side lacks.
 *                             Returns {sent, received, ms, theyLack, weLack}
 *  drop-share-streams         close this node's idle /cairn/shares streams: its next share
 *                             requests open fresh streams (an unseal after a quiet while)
 *  profile-start / profile-stop {path}   a V8 CPU profile of this process (main thread)
 */
import type { GroupId } from '../../src/crypto/ids.js'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
import { randomBytes } from 'node:crypto'
import { Session } from 'node:inspector/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Daemon } from '../../src/node/daemon.js'
import { Channel } from '../../src/replication/channel.js'
import { nodeBounds } from '../../src/replication/sync-index.js'
import { shareStreams } from '../../src/circles/share-streams.js'
import type { IpcHandler } from './ipc.js'
import { emitIpc } from './ipc.js'

export const ECHO_PROTOCOL = '/cairn-bench/echo/1.0.0'
export const BLAST_PROTOCOL = '/cairn-bench/blast/1.0.0'
export const IDLIST_PROTOCOL = '/cairn-bench/idlist/1.0.0'
const IDLIST_CHUNK = 2048
const BATCH_BYTES = 1024 * 1024
const MAX_MSG = 8 * 1024 * 1024

/** VmRSS and VmHWM of a process from /proc (bytes), or undefined off Linux. */
export function procMemory (pid: number | 'self'): { rss: number, hwm: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
  } catch { return undefined }
}

export async function benchControls (daemon: Daemon): Promise<Record<string, IpcHandler>> {
  const s = daemon.services
  const net = (): NonNullable<Daemon['net']> => daemon.network()
  const watches = new Map<number, () => void>()
  let watchSeq = 0
  let registered = false
  let profiler: Session | undefined

  return {
    stats: async () => {
      const m = process.memoryUsage()
      const p = procMemory('self')
      const heaps = daemon.net !== undefined ? await daemon.net.replicator.verifier.heaps() : []
      let wal = 0
      try { wal = statSync(`${s.store.path}-wal`).size } catch {}
      return {
        rss: p?.rss ?? m.rss,
        hwm: p?.hwm ?? NaN,
        heapTotal: m.heapTotal,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        newSpace: getHeapSpaceStatistics().find(x => x.space_name === 'new_space')?.space_size ?? NaN,
        workerHeaps: heaps.map(h => h?.total_heap_size ?? NaN),
        wal,
        cacheSize: s.store.db.pragma('cache_size', { simple: true }),
        mmapSize: s.store.db.pragma('mmap_size', { simple: true })
      }
    },
    multiaddrs: () => net().libp2p.getMultiaddrs().map(String),
    watch: (m) => {
      const id = ++watchSeq
      const gid = String(m.gid) as GroupId
      const kind = m.kind as string | undefined
      const target = Number(m.target)
      const start = process.hrtime.bigint()
      let count = 0
      const off = s.events.on('stored', ({ record }) => {
        if (record.groupId !== gid || (kind !== undefined && record.rec.t !== kind)) return
        count++
        if (count === target) emitIpc({ event: 'watch', watch: id, count, ms: Number(process.hrtime.bigint() - start) / 1e6 })
      })
      watches.set(id, off)
      return { watch: id }
    },
    unwatch: (m) => { watches.get(Number(m.watch))?.(); watches.delete(Number(m.watch)); return true },
    'drop-sync-index': (m) => { net().replicator.indexes.drop(String(m.gid) as GroupId); return true },
    'unload-sync-index': (m) => net().replicator.indexes.unload(String(m.gid) as GroupId),
    'drop-share-streams': () => { shareStreams(net().libp2p).clear(); return true },
    // Wait (up to `ms`) for the search index an agent builds after its start: a suite that measures something else waits it out.
    'search-complete': async (m) => await s.searchComplete(Number(m.ms ?? 600_000)),
    protocols: async () => {
      if (registered) return true
      registered = true
      const libp2p = net().libp2p
      await libp2p.handle(ECHO_PROTOCOL, (stream) => {
        void (async () => {
          const ch = new Channel(stream, 4096, 10_000)
          try {
            await ch.recv()
            await ch.send({ p: new Uint8Array(randomBytes(150)) })
            ch.closeSoon()
          } catch { ch.abort('echo failed') }
        })()
      }, { maxInboundStreams: 64 })
      await libp2p.handle(BLAST_PROTOCOL, (stream) => {
        void (async () => {
          const ch = new Channel(stream, MAX_MSG, 60_000)
          let records = 0
          try {
            for (;;) {
              const msg = await ch.recv<{ recs?: Uint8Array[], done?: number }>()
              if (Array.isArray(msg.recs)) records += msg.recs.length
              if (msg.done !== undefined) break
            }
            await ch.send({ ok: records })
            emitIpc({ event: 'blast', records, bytes: ch.bytesIn })
            ch.closeSoon()
          } catch (e) {
            ch.abort('blast failed')
            emitIpc({ event: 'blast', records, bytes: ch.bytesIn, error: (e as Error).message })
          }
        })()
      }, { maxInboundStreams: 4 })
      await libp2p.handle(IDLIST_PROTOCOL, (stream) => {
        void (async () => {
          const ch = new Channel(stream, MAX_MSG, 60_000)
          try {
            const open = await ch.recv<{ g: GroupId }>()
            const mine = new Set([...s.store.eachHash(open.g)].map(h => h.toString('hex')))
            const theirs = new Set<string>()
            const weLack: Uint8Array[] = []
            for (;;) {
              const m = await ch.recv<{ h?: Uint8Array, done?: boolean }>()
              if (m.h !== undefined) {
                for (let o = 0; o + 32 <= m.h.length; o += 32) {
                  const hex = Buffer.from(m.h.buffer, m.h.byteOffset + o, 32).toString('hex')
                  theirs.add(hex)
                  if (!mine.has(hex)) weLack.push(m.h.subarray(o, o + 32))
                }
              }
              if (m.done === true) break
            }
            const theyLack: Uint8Array[] = []
            for (const hex of mine) if (!theirs.has(hex)) theyLack.push(Buffer.from(hex, 'hex'))
            await ch.send({ weLack, theyLack })
            ch.closeSoon()
          } catch { ch.abort('idlist failed') }
        })()
      }, { maxInboundStreams: 4 })
      return true
    },
    idlist: async (m) => {
      const gid = String(m.gid) as GroupId
      const t = process.hrtime.bigint()
      const stream = await net().libp2p.dialProtocol(peerIdFromString(String(m.peer)), IDLIST_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const ch = new Channel(stream, MAX_MSG, 60_000)
      await ch.send({ g: gid })
      const hashes = [...s.store.eachHash(gid)]
      for (let k = 0; k < hashes.length; k += IDLIST_CHUNK) await ch.send({ h: Buffer.concat(hashes.slice(k, k + IDLIST_CHUNK)) })
      await ch.send({ done: true })
      const r = await ch.recv<{ weLack: Uint8Array[], theyLack: Uint8Array[] }>()
      await ch.close()
      return { sent: ch.bytesOut, received: ch.bytesIn, ms: Number(process.hrtime.bigint() - t) / 1e6, ids: hashes.length, theyLack: r.weLack.length, weLack: r.theyLack.length }
    },
    echo: async (m) => {
      const peers = (m.peers as string[]).map(p => peerIdFromString(p))
      const need = Number(m.need ?? peers.length)
      const libp2p = net().libp2p
      const t = process.hrtime.bigint()
      await new Promise<void>((resolve, reject) => {
        let got = 0
        let failed = 0
        for (const p of peers) {
          void (async () => {
            const stream = await libp2p.dialProtocol(p, ECHO_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
            const ch = new Channel(stream, 4096, 10_000)
            await ch.send({ p: new Uint8Array(randomBytes(200)) })
            await ch.recv()
            ch.closeSoon()
          })().then(() => { if (++got === need) resolve() }, (e: unknown) => { if (++failed > peers.length - need) reject(e) })
        }
      })
      return { ms: Number(process.hrtime.bigint() - t) / 1e6 }
    },
    blast: async (m) => {
      const gid = String(m.gid) as GroupId
      const libp2p = net().libp2p
      const t = process.hrtime.bigint()
      const stream = await libp2p.dialProtocol(peerIdFromString(String(m.peer)), BLAST_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const ch = new Channel(stream, MAX_MSG, 60_000)
      let sent = 0
      let batch: Uint8Array[] = []
      let size = 0
      // The 16 first-level ranges in turn, as a sync answering "send all" reads them.
      for (let i = 0; i < 16; i++) {
        const { lo, hi } = nodeBounds(1, i)
        for (const r of s.store.recordsInRange(gid, lo, hi)) {
          batch.push(r.bytes)
          size += r.bytes.length
          if (size >= BATCH_BYTES) { await ch.send({ recs: batch }); sent += batch.length; batch = []; size = 0 }
        }
      }
      if (batch.length > 0) { await ch.send({ recs: batch }); sent += batch.length }
      await ch.send({ done: sent })
      await ch.recv(60_000)
      await ch.close()
      return { records: sent, bytes: ch.bytesOut, ms: Number(process.hrtime.bigint() - t) / 1e6 }
    },
    'profile-start': async () => {
      profiler = new Session()
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 })
      await profiler.post('Profiler.start')
      return true
    },
    'profile-stop': async (m) => {
      if (profiler === undefined) throw new Error('no profile running')
      const { profile } = await profiler.post('Profiler.stop')
      profiler.disconnect()
      profiler = undefined
      writeFileSync(String(m.path), JSON.stringify(profile))
      return { path: m.path }
    }
  }
}
