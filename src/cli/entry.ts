/**
 * The CLI as bin/cairn loads it: the polyfill before anything that imports
 * libp2p, then the CLI. scripts/bundle.mjs bundles from this file.
 */
import '../polyfill/index.js'
export { main } from './main.js'
