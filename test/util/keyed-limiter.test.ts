import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyedLimiter } from '../../src/util/keyed-limiter.js'

test('at most max tasks per key run at once; the others wait in order; other keys are not held up; a failure frees its slot', async () => {
  const lim = new KeyedLimiter(2)
  let running = 0
  let most = 0
  const order: number[] = []
  const gates: Array<() => void> = []
  const task = (i: number) => async (): Promise<number> => {
    running++; most = Math.max(most, running)
    await new Promise<void>(resolve => gates.push(resolve))
    running--; order.push(i)
    if (i === 1) throw new Error('task 1 failed')
    return i
  }
  const ps = [0, 1, 2, 3, 4].map(async i => await lim.run('a', task(i)).catch((e: Error) => e.message))
  const other = lim.run('b', async () => 'b ran')
  assert.equal(await other, 'b ran', 'key b does not wait for key a')
  await new Promise(resolve => setImmediate(resolve))
  assert.deepEqual(lim.load('a'), { active: 2, waiting: 3 })
  while (order.length < 5) { gates.shift()?.(); await new Promise(resolve => setImmediate(resolve)) }
  assert.deepEqual(await Promise.all(ps), [0, 'task 1 failed', 2, 3, 4])
  assert.equal(most, 2)
  assert.deepEqual(order, [0, 1, 2, 3, 4], 'started in the order they came')
  assert.deepEqual(lim.load('a'), { active: 0, waiting: 0 }, 'nothing held once all ended')
})
