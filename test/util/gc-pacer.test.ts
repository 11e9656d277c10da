import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fullGc, GcPacer } from '../../src/util/gc-pacer.js'

const MiB = 2 ** 20

/** A pacer on a fake clock: `tick(ms)` runs the timers that fall due. */
function fake (): { pacer: GcPacer, collected: string[], tick: (ms: number) => void, timers: () => number } {
  let now = 0
  let timers: Array<{ at: number, fn: () => void }> = []
  const collected: string[] = []
  const pacer = new GcPacer({
    everyBytes: 32 * MiB, quietMs: 2000, minBytes: 4 * MiB, minIntervalMs: 1000,
    collect: () => { now += 5 },
    now: () => now,
    after: (ms, fn) => { const t = { at: now + ms, fn }; timers.push(t); return () => { timers = timers.filter(x => x !== t) } },
    onCollected: (why, ms, bytes) => collected.push(`${why} ${ms} ${bytes / MiB}`)
  })
  const tick = (ms: number): void => {
    const end = now + ms
    for (;;) {
      const due = timers.filter(t => t.at <= end).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      timers = timers.filter(t => t !== due)
      now = due.at
      due.fn()
    }
    now = end
  }
  return { pacer, collected, tick, timers: () => timers.length }
}

test('gc pacer: one full GC per 32 MiB of records, at most once a second; one more when a burst of ≥ 4 MiB ends (2 s quiet); none for a trickle', () => {
  const f = fake()
  for (let i = 0; i < 31; i++) { f.pacer.received(MiB); f.tick(10) }
  assert.deepEqual(f.collected, [], 'not yet 32 MiB')
  f.pacer.received(MiB)
  assert.deepEqual(f.collected, ['bytes 5 32'], 'the 32nd MiB collects at once')
  for (let i = 0; i < 40; i++) f.pacer.received(MiB) // 40 MiB within the same millisecond
  assert.equal(f.collected.length, 1, 'not twice within a second')
  f.tick(1000)
  f.pacer.received(MiB)
  assert.deepEqual(f.collected.at(-1), 'bytes 5 41', 'the next batch after the interval collects what piled up')
  f.pacer.received(5 * MiB)
  f.tick(1999)
  assert.equal(f.collected.length, 2)
  f.tick(1)
  assert.deepEqual(f.collected.at(-1), 'quiet 5 5', 'the burst ended: its garbage is collected')
  f.pacer.received(MiB)
  f.tick(10_000)
  assert.equal(f.collected.length, 3, 'a 1 MiB trickle is left to V8')
  f.pacer.received(3 * MiB)
  f.tick(10_000)
  assert.deepEqual(f.collected.at(-1), 'quiet 5 4', 'the trickle counts once enough has come')
  f.pacer.received(0)
  f.pacer.received(-1)
  f.pacer.received(Number.NaN)
  f.tick(10_000)
  assert.equal(f.collected.length, 4, 'nothing received, nothing collected')
})

test('gc pacer: a burst that ends right after a collection waits out the interval; stop() drops the timer', () => {
  const f = fake()
  f.pacer.received(32 * MiB)
  assert.equal(f.collected.length, 1)
  f.pacer.received(8 * MiB)
  f.tick(2000)
  assert.deepEqual(f.collected.at(-1), 'quiet 5 8', 'collected once the quiet time (beyond the interval) passed')
  f.pacer.received(8 * MiB)
  assert.equal(f.timers(), 1)
  f.pacer.stop()
  assert.equal(f.timers(), 0)
  f.tick(10_000)
  assert.equal(f.collected.length, 2, 'a stopped pacer collects nothing')
})

test('fullGc: a daemon started without --expose-gc gets V8\'s full GC, and it frees what nothing references', async () => {
  const gc = fullGc()
  assert.equal(typeof gc, 'function')
  assert.equal(fullGc(), gc, 'the same function each time')
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'the main context is left as it was')
  let big: Uint8Array | undefined = new Uint8Array(8 * MiB)
  const ref = new WeakRef(big)
  big = undefined
  await new Promise(resolve => setImmediate(resolve)) // a WeakRef's target lives to the end of the job that made it
  gc!()
  assert.equal(ref.deref(), undefined, 'collected')
})
