/**
 * group-verify: re-checking an append-only group of 100,000 entries
 * (GET /api/v1/groups/:gid/verify, src/groups/group-verify.ts).
 *
 * Set-up: a real node (initNode, its services in this process, the vault
 * unlocked) with one taciturn append-only group; ENTRIES entries written
 * through ItemService.create, 5,000 per transaction — sealed, signed, linked
 * to the head and accepted through the gates like any write.
 *
 * value     verifyHeldGroup: every record read back, decoded and its signature
 *           checked, the descriptor chain rebuilt, the gates, each entry's
 *           commitment and author entry signature, the DAG; records/s (median
 *           of RUNS). Two rows: as a member (content commitments checked with
 *           the key) and as a keeper would (no key).
 * baseline  cairn's Ed25519 verify (crypto/sign.ts: libsodium) of exactly the signatures verify
 *           checks (each record's and each entry's), prepared in memory, in a
 *           tight loop on one thread, in runs alternating with verify:
 *           records/s at the signature floor.
 * In this process signatures are checked on this thread; the daemon checks
 * record signatures on its worker pool (replication/verifier.ts), so there it
 * can beat a one-thread floor on a multi-core machine.
 */
import { join } from 'node:path'
import { initNode } from '../../src/node/init.js'
import { loadConfig } from '../../src/config/load.js'
import { loadNodeKey } from '../../src/node/node-key.js'
import { dataPaths } from '../../src/node/paths.js'
import { buildServices } from '../../src/node/services.js'
import { verifyHeldGroup } from '../../src/groups/group-verify.js'
import { commitmentOf, type ItemBody } from '../../src/records/item.js'
import { prepareRecord, type DecodedRecord } from '../../src/records/record.js'
import { ed25519Impl, signedMessage, verify } from '../../src/crypto/sign.js'
import { silentLogger } from '../../src/util/logger.js'
import type { Suite } from '../lib/types.js'
import { BENCH_PASSPHRASE } from '../lib/node.js'
import { contents, itemInput } from '../lib/items.js'
import { interleaved, msSince, now } from '../lib/timing.js'
import { fmtNum } from '../lib/format.js'

const BATCH = 5000

export const groupVerifySuite: Suite = {
  name: 'group-verify',
  description: 'GET /groups/:gid/verify over an append-only group of 100,000 entries vs Ed25519 verify of the same signatures in a loop',
  async run (ctx) {
    const entries = ctx.quick ? 1_000 : 100_000
    const runs = ctx.quick ? 1 : 3
    const dir = join(ctx.tempDir('cairn-bench-gverify-'), 'node')
    await initNode({ dataDir: dir, keeper: false, passphrase: BENCH_PASSPHRASE, env: {} })
    const s = buildServices(loadConfig(dir, { env: {} }), loadNodeKey(dataPaths(dir).nodeKey), silentLogger())
    ctx.defer(async () => await s.close())
    await s.unlock(BENCH_PASSPHRASE)
    s.search.close()
    const g = s.groups.create({ name: 'bench ledger', culture: 'taciturn', appendOnly: true })
    const cs = contents(512)
    const t = now()
    for (let done = 0; done < entries;) {
      const k = Math.min(BATCH, entries - done)
      s.store.tx(() => { for (let i = 0; i < k; i++) s.items.create(g.id, itemInput(cs[(done + i) & 511]!)) })
      done += k
      if (done % 20_000 === 0 || done === entries) ctx.log(`${done} / ${entries} entries written (${Math.round(done / (msSince(t) / 1000))}/s)`)
    }

    // The signatures verify checks, prepared: every record's, and every entry's over its commitment.
    const pubs: Uint8Array[] = []; const msgs: Uint8Array[] = []; const sigs: Uint8Array[] = []
    let records = 0
    for (const page of s.store.groupRecords(g.id)) {
      for (const row of page) {
        records++
        const p = prepareRecord(row.bytes)
        pubs.push(p.rec.s); msgs.push(p.message); sigs.push(p.rec.x)
        if (p.rec.t === 'item') {
          const r = { rec: p.rec, groupId: g.id, recordId: row.rid } as unknown as DecodedRecord<ItemBody>
          pubs.push(r.rec.b.a); msgs.push(signedMessage('cairn/ao-entry/v1', commitmentOf(r)!)); sigs.push(r.rec.b.l!.es)
        }
      }
    }
    const floor = (): number => {
      const t0 = now()
      for (let i = 0; i < msgs.length; i++) if (!verify(pubs[i]!, msgs[i]!, sigs[i]!)) throw new Error('a signature does not verify')
      return records / (msSince(t0) / 1000)
    }
    const member = async (): Promise<number> => {
      const t0 = now()
      const v = await verifyHeldGroup(s.ctx, g.id, { now: Date.now(), maxSkewMs: 300_000, keyFor: kv => s.groups.keyFor(g.id, kv) })
      const ms = msSince(t0)
      if (!v.ok || v.records !== records || v.heads.length !== 1 || v.content !== 'checked') throw new Error(`group verify: ${JSON.stringify({ ...v, problems: v.problems.slice(0, 3) })}`)
      return records / (ms / 1000)
    }
    const keeperLike = async (): Promise<number> => {
      const t0 = now()
      const v = await verifyHeldGroup(s.ctx, g.id, { now: Date.now(), maxSkewMs: 300_000 })
      const ms = msSince(t0)
      if (!v.ok || v.content !== 'no-key') throw new Error('group verify without a key failed')
      return records / (ms / 1000)
    }
    const m = await interleaved(runs, member, floor)
    const k = await interleaved(runs, keeperLike, floor)
    ctx.log(`member ${m.a.samples.map(x => fmtNum(x)).join(', ')} records/s; without key ${k.a.samples.map(x => fmtNum(x)).join(', ')}; floor ${[...m.b.samples, ...k.b.samples].map(x => fmtNum(x)).join(', ')}`)
    const common = { baseline: { name: `Ed25519 verify (${ed25519Impl().name}) of the same signatures (record + entry), one thread, tight loop`, unit: 'records/s' } }
    return [
      ctx.result({
        name: `group verify, ${fmtNum(entries)} append-only entries, member (content checked)`,
        value: m.a.median, unit: 'records/s', baseline: { ...common.baseline, value: m.b.median },
        notes: `${records} records (${entries} entries + descriptor + key envelope), ${msgs.length} signatures; signatures, gates, commitments, DAG, content commitments; one thread here`,
        details: { records, signatures: msgs.length, samples: m.a.samples.map(Math.round).join(' '), baselineSamples: m.b.samples.map(Math.round).join(' ') }
      }),
      ctx.result({
        name: `group verify, ${fmtNum(entries)} append-only entries, as a keeper (no key)`,
        value: k.a.median, unit: 'records/s', baseline: { ...common.baseline, value: k.b.median },
        notes: 'the same checks but content commitments (a keeper holds no key)',
        details: { samples: k.a.samples.map(Math.round).join(' '), baselineSamples: k.b.samples.map(Math.round).join(' ') }
      })
    ]
  }
}
