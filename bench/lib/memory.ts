/**
 * Where a node process's resident memory is (Linux /proc), for the catch-up
 * suite's keeper breakdown: what the kernel counts (smaps) beside what the
 * process says of itself (bench-controls `stats`: V8 heaps of the main thread
 * and of the verifier workers, ArrayBuffers, the SQLite files).
 *
 * smaps splits the RSS by mapping: file-backed pages (code, shared libraries, mmap'd
 * files), glibc's main malloc arena (`[heap]`, the brk area: the main thread's mallocs),
 * glibc's per-thread arenas (anonymous heaps at 64 MiB-aligned addresses,
 * HEAP_MAX_SIZE, each a read-write part followed by its reserved rest), and every
 * other anonymous mapping (V8's heap pages, thread stacks, large mallocs that got their
 * own mmap, SharedArrayBuffers).
 */
import { readFileSync } from 'node:fs'

export interface Smaps {
  rss: number
  file: number
  /** glibc's main arena (`[heap]`). */
  brk: number
  /** glibc's per-thread arenas. */
  arenas: number
  arenaCount: number
  /** Every other anonymous mapping (V8 heap pages, stacks, big mallocs, shared buffers). */
  otherAnon: number
  threads: number
}

const ARENA_ALIGN = 64n * 1024n * 1024n

/** The RSS of `pid` by kind of mapping (bytes), or undefined off Linux. */
export function smaps (pid: number): Smaps | undefined {
  let text: string
  let status: string
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8')
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch { return undefined }
  const out: Smaps = { rss: 0, file: 0, brk: 0, arenas: 0, arenaCount: 0, otherAnon: 0, threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN) }
  const maps: Array<{ start: bigint, end: bigint, perms: string, path: string, inode: string, rss: number }> = []
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\S+)\s*(.*)$/.exec(line)
    if (head !== null) { maps.push({ start: BigInt(`0x${head[1]!}`), end: BigInt(`0x${head[2]!}`), perms: head[3]!, inode: head[4]!, path: head[5]!, rss: 0 }); continue }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss !== null && maps.length > 0) maps[maps.length - 1]!.rss = Number(rss[1]) * 1024
  }
  maps.forEach((m, i) => {
    out.rss += m.rss
    if (m.inode !== '0') out.file += m.rss
    else if (m.path === '[heap]') out.brk += m.rss
    else if (m.start % ARENA_ALIGN === 0n && m.perms.startsWith('rw') && maps[i + 1]?.start === m.end && maps[i + 1]?.perms.startsWith('---') === true &&
      maps[i + 1]!.end - m.start === ARENA_ALIGN) { out.arenas += m.rss; out.arenaCount++ } else out.otherAnon += m.rss
  })
  return out
}

/** What a node process says of its memory (bench-controls `stats`). */
export interface SelfMemory {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
  /** V8 new space (young generation) of the main thread, committed. */
  newSpace: number
  /** Committed heap of each verifier worker (V8 total_heap_size). */
  workerHeaps: number[]
  /** The store's -wal file (bytes). */
  wal: number
  /** SQLite's page cache bound for the store's connection (PRAGMA cache_size, as SQLite states it). */
  cacheSize: number
  mmapSize: number
}

export interface MemorySample { self: SelfMemory, maps: Smaps }

/**
 * Sample a node process every `everyMs` (its own figures over IPC, smaps from /proc);
 * `stop` hands back the sample with the highest RSS (the peak's breakdown) and the last.
 */
export function sampleMemory (node: { proc: { pid?: number }, ctl: { call: <T>(cmd: string, args?: Record<string, unknown>) => Promise<T> } }, everyMs = 1000): { stop: () => Promise<{ peak?: MemorySample, last?: MemorySample, samples: number }> } {
  let peak: MemorySample | undefined
  let last: MemorySample | undefined
  let n = 0
  let busy: Promise<void> = Promise.resolve()
  const take = async (): Promise<void> => {
    const self = await node.ctl.call<SelfMemory>('stats').catch(() => undefined)
    const maps = smaps(node.proc.pid!)
    if (self === undefined || maps === undefined) return
    n++
    last = { self, maps }
    if (peak === undefined || maps.rss > peak.maps.rss) peak = last
  }
  const t = setInterval(() => { busy = busy.then(take) }, everyMs)
  return {
    stop: async () => {
      clearInterval(t)
      await busy
      return { peak, last, samples: n }
    }
  }
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0)

/** One line: the peak's breakdown, in MiB. */
export function describeMemory (s: MemorySample): string {
  const { self: p, maps: m } = s
  return `RSS ${mib(m.rss)} = file-backed ${mib(m.file)} + main malloc arena ${mib(m.brk)} + ${m.arenaCount} thread malloc arenas ${mib(m.arenas)} + other anon ${mib(m.otherAnon)} (V8 heaps: main ${mib(p.heapTotal)} committed, ${mib(p.heapUsed)} used, young ${mib(p.newSpace)}; ` +
    `${p.workerHeaps.length} verifier workers ${p.workerHeaps.map(mib).join('+')}); external ${mib(p.external)} of which ArrayBuffers ${mib(p.arrayBuffers)}; ${m.threads} threads; WAL ${mib(p.wal)}; SQLite cache_size ${p.cacheSize}, mmap_size ${p.mmapSize}`
}
