/**
 * CPU per operation of each process taking part in a load (utime + stime from
 * /proc, every thread of the process; the harness from process.cpuUsage()),
 * summed over the windows it wraps. For telling which process a closed loop's
 * rate is spent in when every process is partly idle but the machine is not.
 */
import { procCpuSeconds } from './fleet.js'

export interface CpuMeter {
  /** Run `fn`, adding each process's CPU and the operations `count()` grew by. */
  around: <T>(count: () => number, fn: () => Promise<T>) => Promise<T>
  /** µs of CPU per operation, by process name (and `harness`), over every wrapped window. */
  perOp: () => Record<string, number>
  /** "agent 410, keeper1 330, … µs/op" */
  line: () => string
}

export function cpuMeter (pids: Record<string, number>): CpuMeter {
  const names = [...Object.keys(pids), 'harness']
  const spent = new Map(names.map(n => [n, 0]))
  let ops = 0
  const snapshot = (): number[] => names.map(n => {
    if (n === 'harness') { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
    return procCpuSeconds(pids[n]!) ?? NaN
  })
  return {
    async around (count, fn) {
      const c0 = snapshot()
      const n0 = count()
      try { return await fn() } finally {
        const c1 = snapshot()
        names.forEach((n, i) => spent.set(n, spent.get(n)! + c1[i]! - c0[i]!))
        ops += count() - n0
      }
    },
    perOp () {
      return Object.fromEntries(names.map(n => [n, ops === 0 ? NaN : 1e6 * spent.get(n)! / ops]))
    },
    line () {
      const p = this.perOp()
      const all = Object.values(p).reduce((a, b) => a + b, 0)
      return `${names.map(n => `${n} ${Math.round(p[n]!)}`).join(', ')} µs/op (all ${Math.round(all)})`
    }
  }
}
