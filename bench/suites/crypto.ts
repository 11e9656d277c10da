/**
 * crypto: the primitives on cairn's hot path, node:crypto (what src/crypto
 * uses) against the pure-JS @noble libraries, measured side by side.
 *
 *  - AES-256-GCM encrypt / decrypt at 1 KiB and 1 MiB, in MB/s (10^6 bytes of
 *    plaintext per second): cairn's gcmEncrypt/gcmDecrypt (src/crypto/aead.ts,
 *    node:crypto) vs `gcm` from @noble/ciphers. A fresh cipher per message, as
 *    every item has its own nonce. AAD of 100 bytes, like an item header.
 *  - Ed25519 sign / verify of a 256-byte message, ops/s: cairn's sign/verify
 *    (src/crypto/sign.ts: libsodium where its addon loads) vs @noble/curves
 *    ed25519, and vs node:crypto's OpenSSL (sign.ts `openssl`, its fallback).
 *
 * Each figure is the median of 3 windows of 1 s after a warm-up, node and
 * noble windows interleaved (ABBA) so both see the same machine load.
 */
import { randomBytes } from 'node:crypto'
import { gcm } from '@noble/ciphers/aes.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { gcmDecrypt, gcmEncrypt } from '../../src/crypto/aead.js'
import { ed25519Impl, generateSigningKey, openssl, sign, verify } from '../../src/crypto/sign.js'
import type { BenchResult, Suite, SuiteContext } from '../lib/types.js'
import { interleaved, measureRate } from '../lib/timing.js'

const u8 = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

/** ops/s of `a` (node:crypto) and `b` (noble), warmed up, in interleaved windows. */
async function pair (ctx: SuiteContext, a: (i: number) => unknown, b: (i: number) => unknown): Promise<[number, number]> {
  const window = (fn: (i: number) => unknown) => () => measureRate(fn, { ms: ctx.quick ? 100 : 1000, minOps: 2 }).perSec
  measureRate(a, { ms: ctx.quick ? 20 : 300, minOps: 2 })
  measureRate(b, { ms: ctx.quick ? 20 : 300, minOps: 2 })
  const r = await interleaved(ctx.quick ? 1 : 3, window(a), window(b))
  return [r.a.median, r.b.median]
}

async function aes (ctx: SuiteContext, size: number, label: string): Promise<BenchResult[]> {
  const key = u8(32)
  const aad = u8(100)
  const msg = u8(size)
  const ivs = Array.from({ length: 64 }, () => u8(12))
  const mb = (opsPerSec: number): number => opsPerSec * size / 1e6

  const [nodeEnc, nobleEnc] = await pair(ctx, i => gcmEncrypt(key, msg, aad, ivs[i & 63]!), i => gcm(key, ivs[i & 63]!, aad).encrypt(msg))

  const iv = ivs[0]!
  const ct = gcmEncrypt(key, msg, aad, iv).ct
  const nobleCt = gcm(key, iv, aad).encrypt(msg)
  if (Buffer.compare(Buffer.from(ct), Buffer.from(nobleCt)) !== 0) throw new Error('node:crypto and noble AES-GCM disagree: the benchmark would compare different things')
  const [nodeDec, nobleDec] = await pair(ctx, () => gcmDecrypt(key, iv, ct, aad), () => gcm(key, iv, aad).decrypt(ct))

  const row = (op: string, node: number, noble: number): BenchResult => ctx.result({
    name: `AES-256-GCM ${op} ${label}`,
    value: mb(node), unit: 'MB/s',
    baseline: { name: '@noble/ciphers gcm', value: mb(noble), unit: 'MB/s' },
    details: { opsPerSec: Math.round(node), baselineOpsPerSec: Math.round(noble), bytes: size }
  })
  return [row('encrypt', nodeEnc, nobleEnc), row('decrypt', nodeDec, nobleDec)]
}

async function ed (ctx: SuiteContext): Promise<BenchResult[]> {
  const key = generateSigningKey()
  const msgs = Array.from({ length: 64 }, () => u8(256))
  const seed = new Uint8Array(key.seed)
  const [cairnSign, nobleSign] = await pair(ctx, i => sign(key, msgs[i & 63]!), i => ed25519.sign(msgs[i & 63]!, seed))

  const sigs = msgs.map(m => sign(key, m))
  const pub = new Uint8Array(key.publicKey)
  if (!ed25519.verify(sigs[0]!, msgs[0]!, pub)) throw new Error('a cairn signature does not verify under noble')
  const [cairnVerify, nobleVerify] = await pair(ctx,
    i => { if (!verify(key.publicKey, msgs[i & 63]!, sigs[i & 63]!)) throw new Error('verify failed') },
    i => { if (!ed25519.verify(sigs[i & 63]!, msgs[i & 63]!, pub)) throw new Error('verify failed') })

  const [cairnSignAgain, opensslSign] = await pair(ctx, i => sign(key, msgs[i & 63]!), i => openssl.sign(key, msgs[i & 63]!))
  const [cairnVerifyAgain, opensslVerify] = await pair(ctx,
    i => { if (!verify(key.publicKey, msgs[i & 63]!, sigs[i & 63]!)) throw new Error('verify failed') },
    i => { if (!openssl.verify(key.publicKey, msgs[i & 63]!, sigs[i & 63]!)) throw new Error('verify failed') })
  const impl = ed25519Impl().name
  return [
    ctx.result({ name: 'Ed25519 sign (256 B)', value: cairnSign, unit: 'ops/s', baseline: { name: '@noble/curves ed25519.sign', value: nobleSign, unit: 'ops/s' }, details: { impl } }),
    ctx.result({ name: 'Ed25519 verify (256 B)', value: cairnVerify, unit: 'ops/s', baseline: { name: '@noble/curves ed25519.verify', value: nobleVerify, unit: 'ops/s' }, details: { impl } }),
    ctx.result({ name: 'Ed25519 sign (256 B), beside OpenSSL', value: cairnSignAgain, unit: 'ops/s', baseline: { name: 'node:crypto (OpenSSL) sign, cairn\'s fallback', value: opensslSign, unit: 'ops/s' }, details: { impl } }),
    ctx.result({ name: 'Ed25519 verify (256 B), beside OpenSSL', value: cairnVerifyAgain, unit: 'ops/s', baseline: { name: 'node:crypto (OpenSSL) verify, cairn\'s fallback', value: opensslVerify, unit: 'ops/s' }, details: { impl } })
  ]
}

export const cryptoSuite: Suite = {
  name: 'crypto',
  description: 'AES-256-GCM MB/s (1 KiB, 1 MiB) and Ed25519 sign/verify ops/s: cairn (node:crypto, libsodium) vs @noble and OpenSSL',
  async run (ctx) {
    const out: BenchResult[] = []
    out.push(...await aes(ctx, 1024, '1 KiB'))
    ctx.log('AES 1 KiB done')
    out.push(...await aes(ctx, 1024 * 1024, '1 MiB'))
    ctx.log('AES 1 MiB done')
    out.push(...await ed(ctx))
    return out
  }
}
