/** Search every file under a directory for byte strings (plaintext-at-rest checks). */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

export function filesUnder (dir: string): string[] {
  const out: string[] = []
  for (const f of readdirSync(dir)) {
    const p = join(dir, f)
    const st = statSync(p)
    if (st.isDirectory()) out.push(...filesUnder(p))
    else if (st.isFile()) out.push(p)
  }
  return out
}

export interface Needle { what: string, bytes: Uint8Array }

/** Every (file, needle) pair where the needle occurs, as "file: what". */
export function findNeedles (dir: string, needles: Needle[], o: { except?: (file: string, n: Needle) => boolean } = {}): string[] {
  const hits: string[] = []
  for (const file of filesUnder(dir)) {
    const data = readFileSync(file)
    for (const n of needles) {
      if (n.bytes.length === 0) throw new Error(`empty needle ${n.what}`)
      if (o.except?.(file, n) === true) continue
      if (data.indexOf(Buffer.from(n.bytes)) >= 0) hits.push(`${relative(dir, file)}: ${n.what}`)
    }
  }
  return hits
}
