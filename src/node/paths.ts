/** The layout of a data directory: defined in util/ so the client (which must not import node/) reads the same names. */
import { basename, dirname, join, resolve } from 'node:path'
export { dataPaths, type DataPaths } from '../util/data-paths.js'

/** Where `cairn recover` builds a node for `dir` before renaming it there (same parent: the rename is atomic). */
export function recoveryWorkDir (dir: string): string {
  const d = resolve(dir)
  return join(dirname(d), `.${basename(d)}.recovering`)
}
