/**
 * The vault: the only place key material lives at rest.
 *
 * File (<dataDir>/vault.cbor, mode 0600) = CBOR { N, r, p, salt, nonce, ct, rv }:
 *   vaultKey = scrypt(passphrase, salt; N=2^17, r=8, p=1)
 *   ct       = XChaCha20-Poly1305(vaultKey, nonce, CBOR(contents), aad = CBOR{params})
 *   rv       = SHA-256(HKDF(vaultKey, salt, "cairn/recover-auth/v1"))   (see vault-backup)
 * contents = { v, e: entity seed, pg: personal group ID, r: [[groupId, [[kv, key, createdAt, retiredAt]…]]…] }
 *
 * Unlocked, the vault keeps the derived vault key so it can re-seal after a key
 * ring change without asking for the passphrase again. lock() zeroizes every
 * key buffer it holds (entity seed, ring keys, vault key).
 */
import { existsSync, readFileSync } from 'node:fs'
import { timingSafeEqual } from 'node:crypto'
import { xchachaDecrypt, xchachaEncrypt } from '../crypto/aead.js'
import { decodeCanonical, encodeCanonical } from '../crypto/canonical.js'
import { zeroize } from '../crypto/bytes.js'
import { randomBytes, sha256 } from '../crypto/hash.js'
import { hkdf, scrypt, VAULT_SCRYPT, type Kdf, type ScryptParams } from '../crypto/kdf.js'
import { forgetSigningKey, signingKeyFromSeed, type SigningKey } from '../crypto/sign.js'
import { entityIdFromPublicKey, type EntityId, type GroupId } from '../crypto/ids.js'
import { checkVaultBody, type VaultBody } from '../records/vault-backup.js'
import { CairnError, IntegrityError } from '../util/errors.js'
import { writeFileAtomic } from '../util/fs.js'
import { KeyRing, type RingEntry } from './key-ring.js'
import { forgetWrapKeys } from '../crypto/keywrap.js'

export const MIN_PASSPHRASE = 8

interface Contents { entitySeed: Uint8Array, personalGroupId: GroupId, rings: Map<GroupId, KeyRing> }

const aadFor = (b: Pick<VaultBody, 'N' | 'r' | 'p' | 'salt'>): Uint8Array => encodeCanonical({ d: 'cairn/vault/v1', N: b.N, r: b.r, p: b.p, salt: b.salt })
export const recoveryAuthKey = (vaultKey: Uint8Array, salt: Uint8Array): Uint8Array => hkdf(vaultKey, salt, 'cairn/recover-auth/v1')

function encodeContents (c: Contents): Uint8Array {
  const r = [...c.rings.entries()].map(([g, ring]) => [g, ring.list().map(e => [e.version, e.key, e.createdAt, e.retiredAt ?? 0])])
  return encodeCanonical({ v: 1, e: c.entitySeed, pg: c.personalGroupId, r })
}

function decodeContents (bytes: Uint8Array): Contents {
  const v = decodeCanonical(bytes) as { v: number, e: Uint8Array, pg: string, r: Array<[string, Array<[number, Uint8Array, number, number]>]> }
  if (v?.v !== 1 || !(v.e instanceof Uint8Array) || v.e.length !== 32 || typeof v.pg !== 'string' || !Array.isArray(v.r)) throw new IntegrityError('vault contents are malformed')
  const rings = new Map<GroupId, KeyRing>()
  for (const [g, entries] of v.r) {
    rings.set(g as GroupId, new KeyRing(entries.map(([version, key, createdAt, retiredAt]): RingEntry => ({ version, key, createdAt, retiredAt: retiredAt === 0 ? null : retiredAt }))))
  }
  return { entitySeed: v.e, personalGroupId: v.pg as GroupId, rings }
}

export function readVaultFile (path: string): VaultBody {
  let raw: Uint8Array
  try { raw = new Uint8Array(readFileSync(path)) } catch (e) {
    throw new CairnError('NOT_INITIALIZED', `cannot read the vault at ${path}: ${(e as Error).message}; run \`cairn init\` first`)
  }
  try { return checkVaultBody(decodeCanonical(raw) as Record<string, unknown>) } catch {
    throw new IntegrityError(`the vault file ${path} is corrupt; restore it with \`cairn recover\``)
  }
}

export class Vault {
  private c: Contents | undefined
  private vaultKey: Uint8Array | undefined
  private sealedBody: VaultBody | undefined
  private signing: SigningKey | undefined
  private readonly changeListeners: Array<(body: VaultBody) => void> = []

  private readonly params: ScryptParams
  private readonly kdf: Kdf

  /** `params`: for a new vault (an existing one keeps its own); `kdf`: scrypt unless a caller remembers derivations (recover). */
  constructor (readonly path: string, o: { params?: ScryptParams, kdf?: Kdf } = {}) {
    this.params = o.params ?? VAULT_SCRYPT
    this.kdf = o.kdf ?? scrypt
  }

  static exists (path: string): boolean { return existsSync(path) }

  /** Create a new vault file; leaves this instance unlocked. */
  async create (passphrase: string, entitySeed: Uint8Array, personalGroupId: GroupId): Promise<void> {
    checkPassphrase(passphrase)
    const salt = randomBytes(16)
    this.vaultKey = await this.kdf(passphrase, salt, this.params)
    this.c = { entitySeed: new Uint8Array(entitySeed), personalGroupId, rings: new Map() }
    this.sealedBody = { N: this.params.N, r: this.params.r, p: this.params.p, salt, nonce: new Uint8Array(24), ct: new Uint8Array(0), rv: new Uint8Array(32) }
    this.save()
  }

  /** Adopt a vault blob (from a keeper during recovery) and unlock it. */
  async adopt (body: VaultBody, passphrase: string): Promise<void> {
    await this.openBody(body, passphrase)
    writeFileAtomic(this.path, encodeCanonical(body), 0o600)
  }

  async unlock (passphrase: string): Promise<void> {
    if (this.c !== undefined) { await this.verifyPassphrase(passphrase); return }
    await this.openBody(readVaultFile(this.path), passphrase)
  }

  /** While unlocked: throws BAD_PASSPHRASE unless `passphrase` derives the vault key in use. */
  async verifyPassphrase (passphrase: string): Promise<void> {
    const b = this.sealed()
    const key = await this.kdf(passphrase, b.salt, { N: b.N, r: b.r, p: b.p })
    const ok = this.vaultKey !== undefined && timingSafeEqual(key, this.vaultKey)
    zeroize(key)
    if (!ok) throw new CairnError('BAD_PASSPHRASE', 'wrong passphrase; nothing was changed')
  }

  private async openBody (body: VaultBody, passphrase: string): Promise<void> {
    const key = await this.kdf(passphrase, body.salt, { N: body.N, r: body.r, p: body.p })
    let plain: Uint8Array
    try {
      plain = xchachaDecrypt(key, body.nonce, body.ct, aadFor(body))
    } catch {
      // The recovery verifier tells a wrong passphrase from a damaged vault.
      const auth = recoveryAuthKey(key, body.salt)
      const rightPassphrase = timingSafeEqual(sha256(auth), body.rv)
      zeroize(key, auth)
      if (rightPassphrase) throw new IntegrityError(`the passphrase is right but the vault ${this.path} is damaged; restore it from a keeper with \`cairn recover\``)
      throw new CairnError('BAD_PASSPHRASE', 'wrong passphrase (the vault did not open); nothing was changed')
    }
    this.c = decodeContents(plain)
    zeroize(plain)
    this.vaultKey = key
    this.sealedBody = body
  }

  get unlocked (): boolean { return this.c !== undefined }

  lock (): void {
    if (this.c === undefined) return
    zeroize(this.c.entitySeed, this.vaultKey)
    forgetSigningKey(this.signing)
    for (const r of this.c.rings.values()) r.zeroize()
    this.c = undefined
    this.vaultKey = undefined
    this.signing = undefined
    forgetWrapKeys()
  }

  private contents (): Contents {
    if (this.c === undefined) throw new CairnError('VAULT_LOCKED', 'the vault is locked; unlock it with `cairn unlock` or POST /api/v1/unlock')
    return this.c
  }

  entityKey (): SigningKey {
    const c = this.contents()
    this.signing ??= signingKeyFromSeed(c.entitySeed)
    return this.signing
  }

  entityId (): EntityId { return entityIdFromPublicKey(this.entityKey().publicKey) }
  personalGroupId (): GroupId { return this.contents().personalGroupId }
  ring (gid: GroupId): KeyRing | undefined { return this.contents().rings.get(gid) }
  groupIds (): GroupId[] { return [...this.contents().rings.keys()] }

  /** Add a key version to a group's ring and persist. Returns false if it was already there. */
  addKey (gid: GroupId, version: number, key: Uint8Array): boolean {
    const c = this.contents()
    let ring = c.rings.get(gid)
    if (ring === undefined) { ring = new KeyRing(); c.rings.set(gid, ring) }
    if (ring.has(version)) return false
    ring.add(version, key)
    this.save()
    return true
  }

  /** Forget a group's keys (group deleted: crypto-shredding). */
  shred (gid: GroupId): void {
    const c = this.contents()
    c.rings.get(gid)?.zeroize()
    c.rings.delete(gid)
    this.save()
  }

  /** The current sealed form (what is on disk and what is backed up to keepers). */
  sealed (): VaultBody {
    if (this.sealedBody === undefined) return readVaultFile(this.path)
    return this.sealedBody
  }

  onChange (fn: (body: VaultBody) => void): void { this.changeListeners.push(fn) }

  private save (): void {
    const c = this.contents()
    const prev = this.sealedBody!
    const params = { N: prev.N, r: prev.r, p: prev.p, salt: prev.salt }
    const plain = encodeContents(c)
    const { nonce, ct } = xchachaEncrypt(this.vaultKey!, plain, aadFor(params))
    zeroize(plain)
    const authKey = recoveryAuthKey(this.vaultKey!, prev.salt)
    const body: VaultBody = { ...params, nonce, ct, rv: sha256(authKey) }
    zeroize(authKey)
    writeFileAtomic(this.path, encodeCanonical(body), 0o600)
    this.sealedBody = body
    for (const l of this.changeListeners) l(body)
  }
}

export function checkPassphrase (p: string): void {
  if (typeof p !== 'string' || p.length < MIN_PASSPHRASE) {
    throw new CairnError('INVALID_INPUT', `the passphrase must be at least ${MIN_PASSPHRASE} characters`)
  }
}
