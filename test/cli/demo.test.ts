/**
 * `cairn demo` as a user runs it: a separate process, real nodes inside it.
 * The summary must show both keepers holding every item as ciphertext that does
 * not contain the plaintext, the owner reading it back, a keeper refusing to
 * decrypt — and no temp dir left behind, also after Ctrl-C.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { BIN, cli } from '../helpers/cli.js'

test('cairn --json demo: both keepers hold every item as ciphertext, the owner reads plaintext, nothing is left behind', { timeout: 120_000 }, () => {
  const started = Date.now()
  const r = cli(['--json', 'demo', '--items', '8'], { timeoutMs: 90_000 })
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stdout}${r.stderr}`)
  const s = r.json
  assert.ok(s !== undefined, `stdout is one JSON document: ${r.stdout.slice(0, 500)}`)
  assert.ok(Date.now() - started < 60_000, 'the demo finishes in well under a minute')

  // Nodes: one agent with an entity, two keepers without.
  assert.deepEqual(s.nodes.map((n: any) => n.name), ['agent', 'keeper1', 'keeper2'])
  assert.match(s.nodes[0].entityId, /^cairn1/)
  for (const k of s.nodes.slice(1)) { assert.equal(k.role, 'keeper'); assert.equal(k.entityId, null); assert.match(k.peerId, /^12D3Koo/) }
  const keeperIds = s.nodes.slice(1).map((n: any) => n.peerId).sort()
  for (const g of s.groups) assert.deepEqual([...g.keepers].sort(), keeperIds, `group ${g.name} has both keepers`)

  // Every item on both keepers, as ciphertext without the plaintext; the owner reads the plaintext.
  assert.equal(s.items.length, 8)
  assert.equal(s.replication.allStored, true)
  assert.deepEqual(s.replication.held, { keeper1: 8, keeper2: 8 })
  for (const it of s.items) {
    assert.deepEqual(Object.keys(it.replication).sort(), ['keeper1', 'keeper2'], `item ${it.id} reached both keepers`)
    for (const t of Object.values<any>(it.replication)) assert.ok(t.ms >= 0 && ['push', 'sync'].includes(t.via))
    assert.equal(it.ownerView.content, it.content)
    const ct = Buffer.from(it.keeperView.ciphertext, 'base64')
    assert.ok(ct.length >= 256, 'padded to at least the smallest bucket')
    assert.equal(ct.includes(Buffer.from(it.content)), false, 'the keeper\'s ciphertext does not contain the plaintext')
    for (const word of it.content.split(/\W+/).filter((w: string) => w.length >= 8)) {
      assert.equal(ct.includes(Buffer.from(word)), false, `no plaintext word (${word}) in the ciphertext`)
      assert.equal(it.keeperView.ciphertext.includes(word), false)
    }
    assert.equal(it.plaintextInCiphertext, false)
    assert.equal(it.keeperView.keyVersion, it.ownerView.keyVersion)
  }

  assert.equal(s.keeperRefusal.status, 403)
  assert.equal(s.keeperRefusal.code, 'KEEPER_HAS_NO_KEYS')
  assert.ok(s.search.results.length > 0, 'the search finds the demo\'s items')
  assert.equal(s.sync.peers.length, 2)
  for (const p of s.sync.peers) { assert.equal(p.error, undefined); assert.ok(p.roundTrips >= 1 && p.bytes > 0) }

  assert.equal(s.removed, true)
  assert.equal(existsSync(s.dataDir), false, `the temp dir ${s.dataDir} is gone`)
})

test('cairn demo rejects a bad --items before starting anything', () => {
  const r = cli(['--json', 'demo', '--items', '0'])
  assert.equal(r.status, 2)
  assert.equal(r.json?.error?.code, 'INVALID_INPUT')
})

test('Ctrl-C during cairn demo stops the nodes and deletes the temp dir', { timeout: 90_000 }, async () => {
  const p = spawn(process.execPath, [BIN, 'demo', '--items', '50'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CAIRN_PASSPHRASE: undefined } })
  let out = ''
  const dir = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the demo did not start its nodes in 60 s: ${out}`)), 60_000)
    p.stdout.on('data', d => {
      out += String(d)
      const m = /data in (\S+)/.exec(out)
      if (m !== null && out.includes('1. Nodes')) { clearTimeout(t); resolve(m[1]!) }
    })
    p.once('exit', code => { clearTimeout(t); reject(new Error(`the demo exited early (${code}): ${out}`)) })
  })
  assert.equal(existsSync(dir), true)
  const exited = new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  p.kill('SIGINT')
  assert.equal(await exited, 130)
  assert.equal(existsSync(dir), false, `${dir} was deleted on Ctrl-C`)
})

test('cairn --json demo --agents: bob\'s agent recalls what alice\'s agent remembered (and back); carol\'s finds nothing; nothing is left behind', { timeout: 150_000 }, () => {
  const r = cli(['--json', 'demo', '--agents'], { timeoutMs: 140_000 })
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stdout}${r.stderr}`)
  const s = r.json
  assert.deepEqual(s.nodes.map((n: any) => [n.name, n.inGroup]), [['alice', true], ['bob', true], ['carol', false]])
  assert.deepEqual(s.exchanges.map((x: any) => [x.from, x.to, x.found]), [['alice', 'bob', true], ['bob', 'alice', true]])
  for (const x of s.exchanges) assert.ok(x.afterMs >= 0 && x.afterMs < 30_000, `recalled ${x.afterMs} ms after the write`)
  assert.deepEqual(s.outsider.queries.map((q: any) => q.results), [0, 0, 0])
  assert.equal(s.outsider.getMemory.code, 'NOT_FOUND')
  assert.equal(s.removed, true)
  assert.equal(existsSync(s.dataDir), false, `the temp dir ${s.dataDir} is gone`)
})
