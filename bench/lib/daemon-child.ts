/**
 * Child-process entry for bench/lib/node.ts startNodeProcess(): runs one cairn
 * Daemon, prints one JSON line
 * {apiPort, peerId, pid} on stdout when the API answers, and stops cleanly on
 * SIGTERM/SIGINT. Arguments: <dataDir> [flagsJson]. Passphrase: env
 * CAIRN_BENCH_PASSPHRASE (absent for keepers). startNodeProcess runs it
 * compiled with the sources (build.ts), with plain `node` as `cairn start`
 * runs dist/; it also runs from source under tsx.
 *
 * With an IPC channel (startNodeProcess always opens one) the harness can also
 * drive and observe the process beside the node (bench-controls.ts): count
 * `stored` events, drop a sync index (a cold sync), run the raw-stream
 * baselines between the same processes, read RSS, take a CPU profile. None of
 * that changes what the node does; the node is the same `Daemon` `cairn start` runs.
 */
import '../../src/polyfill/index.js'
import { Daemon } from '../../src/node/daemon.js'
import { createLogger, silentLogger } from '../../src/util/logger.js'
import { join } from 'node:path'
import { benchControls } from './bench-controls.js'
import { serveIpc } from './ipc.js'

const [dataDir, flagsJson] = process.argv.slice(2)
if (dataDir === undefined) {
  process.stderr.write('usage: daemon-child.ts <dataDir> [flagsJson]\n')
  process.exit(2)
}
const passphrase = process.env.CAIRN_BENCH_PASSPHRASE
const daemon = await Daemon.start({
  dataDir,
  env: {},
  // CAIRN_BENCH_LOG=<level>: the node's log in <dataDir>/cairn.log (diagnosis; with CAIRN_BENCH_KEEP_DIRS the dirs outlive the run).
  log: process.env.CAIRN_BENCH_LOG !== undefined && process.env.CAIRN_BENCH_LOG !== '' ? createLogger(process.env.CAIRN_BENCH_LOG, join(dataDir, 'cairn.log')) : silentLogger(),
  flags: flagsJson !== undefined ? JSON.parse(flagsJson) : { api: { port: 0 } },
  ...(passphrase !== undefined && passphrase !== '' ? { passphrase } : {})
})
let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  daemon.stop().then(() => process.exit(0), (e: unknown) => { process.stderr.write(`stop failed: ${String(e)}\n`); process.exit(1) })
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
// The harness going away (IPC closed) stops the node too: no orphan daemons.
process.on('disconnect', stop)
if (serveIpc(await benchControls(daemon))) process.channel?.unref()
process.stdout.write(JSON.stringify({ apiPort: daemon.apiPort, peerId: daemon.services.nodeKey.peerId, pid: process.pid }) + '\n')
