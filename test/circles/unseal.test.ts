/**
 * The unseal attempt and the approval queue without a network: holders are
 * functions that answer at once, after a person's delay, refuse, or never.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { UnsealAttempt, type AskOptions, type AttemptDeps } from '../../src/circles/unseal.js'
import { ApprovalQueue, MAX_PENDING } from '../../src/circles/approvals.js'
import type { ShareGrant } from '../../src/circles/share-protocol.js'
import { CairnError } from '../../src/util/errors.js'

// The attempt's timers are unref'd (a daemon's server keeps its loop alive); so does this.
let keepAlive: NodeJS.Timeout
before(() => { keepAlive = setInterval(() => {}, 1000) })
after(() => { clearInterval(keepAlive) })

type Behaviour = 'auto' | 'deny' | 'silent' | 'unreachable' | { approveAfterMs: number } | 'bad'

const grant = (x: number, bad = false): ShareGrant => ({ x, sv: 1, share: new Uint8Array([bad ? 0 : x, 7, 7]) })

function attempt (holders: Behaviour[], threshold: number, o: { windowMs?: number, combineOk?: boolean } = {}): { a: UnsealAttempt, asked: AbortSignal[], combined: ShareGrant[][] } {
  const asked: AbortSignal[] = []
  const combined: ShareGrant[][] = []
  const names = ['self', ...holders.map((_, i) => `h${i + 1}`)]
  const ask = async (_kv: number, pub: Uint8Array, ao: AskOptions): Promise<ShareGrant> => {
    asked.push(ao.signal)
    const i = pub[0]!
    const b = holders[i - 1]!
    const cancelled = (): Promise<never> => new Promise<never>((_resolve, reject) => { ao.signal.addEventListener('abort', () => { reject(new CairnError('TIMEOUT', 'x', { reason: 'cancelled' })) }) })
    if (b === 'auto') return grant(i + 1)
    if (b === 'bad') return grant(i + 1, true)
    if (b === 'unreachable') throw new CairnError('UNAVAILABLE', 'x', { reason: 'unreachable' })
    ao.onWait(Date.now() + ao.waitMs)
    if (b === 'deny') { await new Promise(resolve => setTimeout(resolve, 5)); throw new CairnError('FORBIDDEN', 'denied', { reason: 'denied' }) }
    if (b === 'silent') return await cancelled()
    return await Promise.race([new Promise<ShareGrant>(resolve => setTimeout(() => { resolve(grant(i + 1)) }, b.approveAfterMs)), cancelled()])
  }
  const d: AttemptDeps = {
    groupId: 'g', windowMs: o.windowMs ?? 5000, onChange: () => {}, onBadShare: () => {},
    versions: [{ kv: 1, threshold, holders: names.map((entityId, i) => ({ entityId, pub: new Uint8Array([i]), self: i === 0 })) }],
    ownShare: () => grant(1),
    ask,
    check: (_kv, _pub, g) => g.share[0] !== 0,
    combine: async (_kv, grants) => { combined.push(grants.map(g => ({ ...g, share: new Uint8Array(g.share) }))); return o.combineOk ?? true }
  }
  return { a: new UnsealAttempt(d).start(), asked, combined }
}

test('auto holders: done at K, the holder not needed is asked to stop', async () => {
  const { a, asked, combined } = attempt(['auto', 'auto', 'silent'], 3)
  await a.done
  assert.equal(a.progress().state, 'unsealed')
  assert.equal(combined[0]!.length, 3)
  assert.ok(asked.every(s => s.aborted), 'every open request is aborted once the key is rebuilt')
  assert.deepEqual(a.progress().noAnswer, ['h3'])
})

test('waits for a person: pending with collected/needed, then unsealed, naming approved, denied and silent holders', async () => {
  const { a } = attempt([{ approveAfterMs: 150 }, 'deny', 'silent'], 2)
  await new Promise(resolve => setTimeout(resolve, 50))
  const p = a.progress()
  assert.equal(p.state, 'pending')
  assert.deepEqual([p.collected, p.needed], [1, 2])
  assert.deepEqual(p.denied, ['h2'])
  assert.deepEqual(new Set(p.waiting), new Set(['h1', 'h3']))
  assert.ok(p.holders.find(h => h.entityId === 'h1')!.waitingUntil !== undefined)
  await a.done
  const q = a.progress()
  assert.equal(q.state, 'unsealed')
  assert.deepEqual(q.approved, ['h1'])
  assert.deepEqual(q.denied, ['h2'])
  assert.deepEqual(q.noAnswer, ['h3'])
  assert.equal(q.holders.find(h => h.entityId === 'h1')!.state, 'approved')
})

test('fails as soon as K is out of reach (denies), without waiting for the window', async () => {
  const t0 = Date.now()
  const { a } = attempt(['deny', 'deny', 'silent'], 3, { windowMs: 60_000 })
  await a.done
  assert.ok(Date.now() - t0 < 5000)
  assert.equal(a.progress().state, 'failed')
  const o = a.outcome()[0]!
  assert.equal(o.ok, false)
  assert.equal(o.collected, 1)
  assert.deepEqual(o.refused.map(r => r.reason).sort(), ['denied', 'denied', 'no-answer'])
})

test('the window ends an attempt whose people did not answer; holders still deciding are no-answer', async () => {
  const { a } = attempt(['auto', 'silent', 'silent'], 3, { windowMs: 100 })
  await a.done
  const p = a.progress()
  assert.equal(p.state, 'failed')
  assert.equal(p.collected, 2, 'the shares in hand are still counted after they were wiped')
  assert.deepEqual(new Set(p.noAnswer), new Set(['h2', 'h3']))
})

test('unreachable holders are not waited for; a bad share is named and does not count; cancel ends it', async () => {
  const { a } = attempt(['unreachable', 'bad', 'auto'], 3)
  await a.done
  const o = a.outcome()[0]!
  assert.equal(o.ok, false)
  assert.deepEqual(o.badShares, ['h2'])
  assert.deepEqual(a.progress().noAnswer, ['h1'])
  const c = attempt(['silent', 'silent'], 2)
  c.a.cancel()
  await c.a.done
  assert.equal(c.a.progress().state, 'cancelled')
  assert.ok(c.asked.every(s => s.aborted))
})

test('a key that fails its check value: the attempt fails although K shares came', async () => {
  const { a } = attempt(['auto', 'auto'], 2, { combineOk: false })
  await a.done
  assert.equal(a.progress().state, 'failed')
  assert.equal(a.outcome()[0]!.collected, 2)
})

test('approval queue: the requests of one unseal share one entry, which expires when every stream left; decisions reach every waiter', async () => {
  const q = new ApprovalQueue()
  const seen: string[] = []
  q.onChange(v => { seen.push(v.state) })
  const r = { groupId: 'g', from: 'A', peerId: 'p' }
  const w1 = q.wait({ ...r, keyVersion: 2 }, 10_000)!
  const w2 = q.wait({ ...r, keyVersion: 1 }, 10_000)!
  assert.equal(w1.id, w2.id)
  assert.deepEqual(q.get(w1.id)!.keyVersions, [2, 1])
  assert.equal(q.list().length, 1)
  w1.leave()
  assert.equal(q.get(w1.id)!.state, 'pending', 'one stream still waits')
  w2.leave()
  assert.equal(await w1.decision, 'expired')
  const w3 = q.wait({ ...r, keyVersion: 1 }, 10_000)!
  const w4 = q.wait({ ...r, keyVersion: 2 }, 10_000)!
  assert.ok(q.decide(w3.id, 'approved'))
  assert.deepEqual([await w3.decision, await w4.decision], ['approved', 'approved'])
  assert.equal(q.decide(w3.id, 'denied'), false, 'a decided request cannot be decided again')
  assert.deepEqual(seen, ['pending', 'expired', 'pending', 'approved'])
  const fast = q.wait({ ...r, from: 'B', keyVersion: 1 }, 20)!
  assert.equal(await fast.decision, 'expired')
  q.clear()
})

test('approval queue: at most MAX_PENDING entries wait', () => {
  const q = new ApprovalQueue()
  for (let i = 0; i < MAX_PENDING; i++) assert.ok(q.wait({ groupId: 'g', from: `e${i}`, peerId: 'p', keyVersion: 1 }, 60_000) !== undefined)
  assert.equal(q.wait({ groupId: 'g', from: 'one more', peerId: 'p', keyVersion: 1 }, 60_000), undefined)
  assert.equal(q.pendingCount(), MAX_PENDING)
  q.clear()
  assert.equal(q.pendingCount(), 0)
})
