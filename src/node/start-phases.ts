/**
 * Where a daemon's start-up goes: wall and CPU time per phase, logged once at
 * debug level when the node is up ("start-up phases", in ms). CPU is the whole
 * process's (process.cpuUsage: every thread, so the unlock's scrypt on the
 * thread pool counts), which is why a phase's CPU can exceed its wall time.
 */
export interface PhaseTime { ms: number, cpuMs: number }

export class StartPhases {
  readonly phases: Record<string, PhaseTime> = {}
  private wall = performance.now()
  private cpu = process.cpuUsage()

  /** Closes the phase running since the last mark (or since construction) under `name`. */
  mark (name: string): void {
    const wall = performance.now()
    const cpu = process.cpuUsage()
    const prev = this.phases[name] ?? { ms: 0, cpuMs: 0 }
    this.phases[name] = {
      ms: round(prev.ms + wall - this.wall),
      cpuMs: round(prev.cpuMs + (cpu.user - this.cpu.user + cpu.system - this.cpu.system) / 1000)
    }
    this.wall = wall
    this.cpu = cpu
  }

  /** The phases, and since process start (module loading included) up to the last mark. */
  summary (): Record<string, PhaseTime> {
    const c = this.cpu
    return { ...this.phases, sinceProcessStart: { ms: round(this.wall), cpuMs: round((c.user + c.system) / 1000) } }
  }
}

const round = (x: number): number => Math.round(x * 10) / 10
