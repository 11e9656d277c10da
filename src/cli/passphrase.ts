/**
 * Where a passphrase comes from, in order: --passphrase-file, CAIRN_PASSPHRASE,
 * an interactive prompt (no echo) when stdin is a terminal. With none of these
 * the command fails and says how to provide one, rather than hanging.
 */
import { readFileSync } from 'node:fs'
import { CairnError } from '../util/errors.js'

export async function obtainPassphrase (o: { file?: string, confirm?: boolean, required?: boolean }): Promise<string | undefined> {
  if (o.file !== undefined) {
    let text: string
    try { text = readFileSync(o.file, 'utf8') } catch (e) {
      throw new CairnError('INVALID_INPUT', `cannot read the passphrase file ${o.file}: ${(e as Error).message}`)
    }
    const p = text.replace(/\r?\n$/, '')
    if (p.length === 0) throw new CairnError('INVALID_INPUT', `the passphrase file ${o.file} is empty`)
    return p
  }
  const env = process.env.CAIRN_PASSPHRASE
  if (env !== undefined && env !== '') return env
  if (!process.stdin.isTTY) {
    if (o.required === false) return undefined
    throw new CairnError('INVALID_INPUT', 'a passphrase is needed: set CAIRN_PASSPHRASE, pass --passphrase-file <file>, or run in a terminal to be prompted')
  }
  if (o.required === false) return undefined
  const p = await prompt('Passphrase: ')
  if (o.confirm === true) {
    const again = await prompt('Repeat passphrase: ')
    if (again !== p) throw new CairnError('INVALID_INPUT', 'the passphrases do not match')
  }
  return p
}

function prompt (label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin
    process.stderr.write(label)
    stdin.setRawMode(true)
    stdin.resume()
    let buf = ''
    const done = (err?: Error): void => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (err !== undefined) reject(err); else resolve(buf)
    }
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { done(); return }
        if (ch === '\u0003') { done(new CairnError('INVALID_INPUT', 'cancelled')); return }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1)
        else buf += ch
      }
    }
    stdin.on('data', onData)
  })
}
