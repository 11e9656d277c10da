/**
 * Group commit: concurrent writes share one transaction and one fsync; a write
 * is acknowledged only once a sync that started after its commit completed
 * (the fsync runs off the event loop), and a failing write or sync rejects
 * what it covers, nothing else.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { GroupCommit, type Durability } from '../../src/store/group-commit.js'
import { Store } from '../../src/store/store.js'
import { CairnError } from '../../src/util/errors.js'
import { stopAll, tempDir } from '../helpers/cli.js'

after(stopAll)

/** A durability double whose syncs complete when the test says so. */
function manualSync (): Durability & { calls: number, release: (err?: Error) => void, started: () => Promise<void> } {
  const waiting: Array<{ ok: () => void, fail: (e: Error) => void }> = []
  let onStart: (() => void) | undefined
  const d = {
    calls: 0,
    sync: async () => {
      d.calls++
      onStart?.()
      await new Promise<void>((resolve, reject) => { waiting.push({ ok: resolve, fail: reject }) })
    },
    close: async () => {},
    release: (err?: Error) => { const w = waiting.shift()!; if (err !== undefined) w.fail(err); else w.ok() },
    started: async () => await new Promise<void>(resolve => { onStart = resolve })
  }
  return d
}

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  await new Promise(resolve => setImmediate(resolve))
  return done
}

test('writes resolve only after the sync that follows their commit; writes committed during a sync wait for the next one', async () => {
  const store = new Store(':memory:')
  const d = manualSync()
  const gc = new GroupCommit(store, d)
  const firstSync = d.started()
  const a = gc.submit(() => { store.putMeta('a', '1'); return 'a' })
  const b = gc.submit(() => { store.putMeta('b', '1'); return 'b' })
  await firstSync
  assert.equal(d.calls, 1, 'two writes of one turn share one sync')
  assert.equal(store.getMeta('a'), '1', 'committed (visible) before the sync completes')
  assert.equal(await settled(a), false, 'not acknowledged before its sync completes')
  // Committed while the first sync is under way: the first does not cover it.
  const c = gc.submit(() => { store.putMeta('c', '1'); return 'c' })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(store.getMeta('c'), '1')
  d.release()
  assert.deepEqual(await Promise.all([a, b]), ['a', 'b'])
  assert.equal(await settled(c), false, 'c waits for a sync that started after its commit')
  assert.equal(d.calls, 2)
  d.release()
  assert.equal(await c, 'c')
  await gc.close()
  store.close()
})

test('a failing write rejects alone; a failed sync rejects the writes it covered, not later ones', async () => {
  const store = new Store(':memory:')
  const d = manualSync()
  const gc = new GroupCommit(store, d)
  const ok = gc.submit(() => { store.putMeta('ok', '1') })
  const bad = gc.submit(() => { store.putMeta('bad', '1'); throw new CairnError('INVALID_INPUT', 'refused') })
  await assert.rejects(bad, (e: unknown) => (e as CairnError).code === 'INVALID_INPUT')
  assert.equal(store.getMeta('bad'), undefined, 'its savepoint rolled back')
  d.release(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }))
  await assert.rejects(ok, (e: unknown) => e instanceof CairnError && e.code === 'UNAVAILABLE')
  const full = gc.submit(() => { store.putMeta('full', '1') })
  await new Promise(resolve => setImmediate(resolve))
  d.release(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }))
  await assert.rejects(full, (e: unknown) => e instanceof CairnError && e.code === 'STORAGE_FULL')
  const later = gc.submit(() => { store.putMeta('later', '1'); return 7 })
  await new Promise(resolve => setImmediate(resolve))
  d.release()
  assert.equal(await later, 7)
  await gc.close()
  store.close()
})

test('a second pass: steps left for later run after every write of the batch, the step between the passes once; a failing later step refuses its write alone', async () => {
  const store = new Store(':memory:')
  const gc = new GroupCommit(store)
  const order: string[] = []
  const between = (): void => { order.push('between') }
  const write = (name: string, failLater = false) => gc.submit(() => {
    order.push(`first ${name}`)
    store.putMeta(`${name}-first`, '1')
    assert.equal(gc.beforeLater(between), true)
    assert.equal(gc.later(() => {
      order.push(`later ${name}`)
      store.putMeta(`${name}-later`, '1')
      if (failLater) throw new CairnError('CONCURRENT_CHANGE', `${name} refused later`)
    }), true)
    return name
  })
  const plain = gc.submit(() => { order.push('first plain'); return 'plain' })
  const [a, b, c] = [write('a'), write('b', true), write('c')]
  assert.equal(await plain, 'plain')
  assert.equal(await a, 'a')
  assert.equal(await c, 'c')
  await assert.rejects(b, (e: unknown) => (e as CairnError).code === 'CONCURRENT_CHANGE')
  assert.deepEqual(order, ['first plain', 'first a', 'first b', 'first c', 'between', 'later a', 'later b', 'later c'])
  assert.equal(store.getMeta('b-later'), undefined, 'the failed later step rolled back')
  assert.equal(store.getMeta('b-first'), '1', 'its first part stays (documented: an item\'s key usage count)')
  assert.equal(store.getMeta('c-later'), '1')
  // Outside a batch there is no second pass: the caller does the work now.
  assert.equal(gc.later(() => {}), false)
  assert.equal(gc.beforeLater(() => {}), false)
  // A step between the passes that throws refuses every write that left work for later, no other.
  const boom = (): void => { throw new Error('signing failed') }
  const x = gc.submit(() => { gc.beforeLater(boom); gc.later(() => { store.putMeta('x-later', '1') }); return 'x' })
  const y = gc.submit(() => 'y')
  await assert.rejects(x, /signing failed/)
  assert.equal(await y, 'y')
  assert.equal(store.getMeta('x-later'), undefined)
  await gc.close()
  store.close()
})

test('on a file store, acknowledged writes are in the WAL synced to disk, survive reopening, and close() waits for pending syncs', async () => {
  const path = join(tempDir(), 'cairn.db')
  const store = new Store(path)
  const gc = GroupCommit.forStore(store)
  const writes = Array.from({ length: 50 }, async (_, i) => await gc.submit(() => { store.putMeta(`k${i}`, String(i)); return i }))
  const pending = gc.submit(() => { store.putMeta('last', 'yes') })
  assert.deepEqual(await Promise.all(writes), Array.from({ length: 50 }, (_, i) => i))
  await gc.close()
  await pending
  assert.equal(store.db.pragma('synchronous', { simple: true }), 2, 'the connection is back to FULL for every other write')
  store.close()
  const again = new Store(path)
  assert.equal(again.getMeta('k49'), '49')
  assert.equal(again.getMeta('last'), 'yes')
  again.close()
})
