/**
 * One passphrase's key derivations, remembered for the length of one operation.
 * `cairn recover` needs the vault key three times — the proof to the keeper,
 * opening the vault the keeper sends, the recovering node's unlock — from the
 * same passphrase, salt and parameters; each is a scrypt of ~0.3 s and 128 MiB.
 * The scrypt parameters are the vault's (or the keeper's, checked as before),
 * never changed here. Keys stay in memory only, as an unlocked vault holds its
 * key; every caller gets its own copy (callers zeroize theirs), and forget()
 * zeroizes the remembered ones and ends the remembering: a vault that keeps
 * this derivation (a node's, after `cairn start`) derives afresh at each later
 * unlock, so `cairn lock` still leaves no key in memory.
 */
import { zeroize } from '../crypto/bytes.js'
import { scrypt, type Kdf } from '../crypto/kdf.js'

export class RememberedKdf {
  private readonly keys = new Map<string, { passphrase: string, key: Promise<Uint8Array> }>()
  private remembering = true

  /** `derive`: the derivation to remember (scrypt; a test counts its calls). */
  constructor (private readonly derive: Kdf = scrypt) {}

  readonly kdf: Kdf = async (passphrase, salt, params) => {
    const id = `${Buffer.from(salt).toString('hex')}/${params.N}/${params.r}/${params.p}`
    let known = this.keys.get(id)
    if (!this.remembering || (known !== undefined && known.passphrase !== passphrase)) return await this.derive(passphrase, salt, params)
    if (known === undefined) {
      known = { passphrase, key: this.derive(passphrase, salt, params) }
      this.keys.set(id, known)
      known.key.catch(() => { if (this.keys.get(id) === known) this.keys.delete(id) })
    }
    return (await known.key).slice()
  }

  /** Zeroizes every remembered key; later derivations are not remembered. */
  forget (): void {
    this.remembering = false
    for (const { key } of this.keys.values()) void key.then(k => { zeroize(k) }, () => {})
    this.keys.clear()
  }
}
