/** Hybrid logical clock: wallMs * 1024 + counter, strictly monotonic whatever the wall clock does. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { HybridClock, clockCounter, clockWall, isClock, makeClock } from '../../src/crypto/hlc.js'

const T0 = 1_700_000_000_000

test('packing: wall and counter round trip and clocks sort like (wall, counter)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 42 }), fc.integer({ min: 0, max: 1023 }), (w, c) => {
    const k = makeClock(w, c)
    assert.equal(clockWall(k), w)
    assert.equal(clockCounter(k), c)
    assert.ok(Number.isSafeInteger(k))
  }))
  assert.ok(makeClock(T0, 1023) < makeClock(T0 + 1, 0))
  assert.equal(isClock(makeClock(T0)), true)
  assert.equal(isClock(0), false)
  assert.equal(isClock(1.5), false)
  assert.equal(isClock(2 ** 53), false)
})

test('tick is strictly increasing when the wall clock jumps backwards, stalls, or leaps, with remote observations mixed in', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: -10_000_000, max: 10_000 }) }),
    fc.record({ kind: fc.constant('observe' as const), ahead: fc.integer({ min: -5000, max: 5000 }) })
  )
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 300 }), steps => {
    let now = T0
    const hlc = new HybridClock(() => now)
    let last = 0
    for (const s of steps) {
      if (s.kind === 'tick') {
        now = Math.max(0, now + s.dt)
        const c = hlc.tick()
        assert.ok(c > last, `tick ${c} not after ${last}`)
        assert.ok(clockWall(c) >= now, 'the clock fell behind the wall clock')
        last = c
      } else {
        const remote = makeClock(Math.max(1, now + s.ahead), 5)
        hlc.observe(remote)
        const c = hlc.tick()
        assert.ok(c > remote && c > last)
        last = c
      }
    }
  }), { numRuns: 300 })
})

test('the wall clock going backwards does not move time back', () => {
  let now = T0
  const hlc = new HybridClock(() => now)
  const a = hlc.tick()
  now = T0 - 60_000
  const b = hlc.tick()
  const c = hlc.tick()
  assert.ok(a < b && b < c)
  assert.equal(clockWall(c), T0, 'stays at the latest wall time seen, advancing the counter')
})

test('counter overflow (more than 1024 events in one ms) stays monotonic and borrows only the next milliseconds', () => {
  const now = T0
  const hlc = new HybridClock(() => now)
  let last = 0
  for (let i = 0; i < 5000; i++) {
    const c = hlc.tick()
    assert.ok(c > last)
    assert.ok(clockCounter(c) < 1024)
    last = c
  }
  // 5000 events in one frozen millisecond occupy ceil(5000/1024) ms, no more
  assert.ok(clockWall(last) - now <= Math.ceil(5000 / 1024))
  assert.ok(clockWall(last) > now)
})

test('a restarted clock resumes after its persisted value', () => {
  const now = T0
  const saved = makeClock(T0 + 10_000, 7) // persisted by a run whose wall clock was ahead
  const hlc = new HybridClock(() => now, saved)
  assert.ok(hlc.tick() > saved)
})
