// A machine-wide slot for heavy runs (the test suite, benchmarks) on a shared
// development box. The end-to-end tests and every benchmark start several node
// processes and compare against timing ceilings or same-run baselines; on this
// 2-core box, six such runs at once (load average 35, seen 2026-12-01) turn
// generous ceilings into false failures and make benchmark figures
// meaningless. So a run waits for one of CAIRN_MACHINE_SLOTS (default 2) slots.
//
// Slots are files /tmp/cairn-machine-slot-<n> holding the owner's pid; a slot
// whose pid is gone is free. Skipped when CI=true (one run per machine) or
// when CAIRN_MACHINE_SLOT is set (a run inside a run that holds a slot, e.g.
// the bench smoke test), and when CAIRN_MACHINE_SLOTS=0.
import { openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function alive (pid) {
  try { process.kill(pid, 0); return true } catch (e) { return e.code === 'EPERM' }
}

function tryTake (path) {
  try {
    const fd = openSync(path, 'wx', 0o600)
    writeSync(fd, String(process.pid))
    closeSync(fd)
    return true
  } catch (e) {
    if (e.code !== 'EEXIST') return false
    let pid = NaN
    try { pid = Number(readFileSync(path, 'utf8')) } catch {}
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) return false
    try { unlinkSync(path) } catch {}
    return false // retried on the next round
  }
}

/** Waits for a slot; resolves with a release function (also run at exit). */
export async function acquireMachineSlot (what) {
  const n = Number(process.env.CAIRN_MACHINE_SLOTS ?? 2)
  if (process.env.CI === 'true' || process.env.CAIRN_MACHINE_SLOT !== undefined || !(n > 0)) return () => {}
  const paths = Array.from({ length: n }, (_, i) => join(tmpdir(), `cairn-machine-slot-${i}`))
  let told = false
  const started = Date.now()
  for (;;) {
    const p = paths.find(tryTake)
    if (p !== undefined) {
      if (told) process.stderr.write(`${what}: got a machine slot after ${Math.round((Date.now() - started) / 1000)} s\n`)
      let done = false
      const release = () => { if (done) return; done = true; try { if (readFileSync(p, 'utf8') === String(process.pid)) unlinkSync(p) } catch {} }
      process.once('exit', release)
      process.env.CAIRN_MACHINE_SLOT = p
      return release
    }
    if (!told) {
      process.stderr.write(`${what}: waiting for one of ${n} machine slots (other test or bench runs on this machine; CAIRN_MACHINE_SLOTS=0 skips)\n`)
      told = true
    }
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
}
