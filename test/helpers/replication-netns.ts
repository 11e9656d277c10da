/**
 * A network namespace joined to the host by a veth pair, so a test can run a
 * node behind a link it can cut and heal (`ip netns`, root only).
 *
 *   host  <hostIp>/30 on <hostIf>  ⟷  <nsIf> <nsIp>/30  inside <ns>
 *
 * cut() takes both ends down and destroys the TCP sockets between the two sides
 * (`ss -K`), so peers see their connections end at once and nothing queued in a
 * kernel buffer is delivered after heal(). Every namespace created here is
 * removed by destroy(), which also runs at process exit (and on SIGINT/SIGTERM)
 * as a last resort. REPLICATION_NETNS=off makes create() decline, to exercise
 * the fallback a machine without root takes.
 */
import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'

const live = new Set<NetnsLink>()
process.once('exit', () => { for (const l of live) l.destroy() })
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143))

function sh (cmd: string, args: string[], allowFail = false): { ok: boolean, out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 })
  const ok = r.status === 0
  if (!ok && !allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr ?? ''}${r.error?.message ?? ''}`)
  return { ok, out: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}

export class NetnsLink {
  private destroyed = false

  private constructor (readonly ns: string, readonly hostIf: string, readonly nsIf: string, readonly hostIp: string, readonly nsIp: string) {}

  /** A new namespace and link, or a string saying why this machine cannot make one. */
  static create (): NetnsLink | string {
    if (process.env.REPLICATION_NETNS === 'off') return 'disabled by REPLICATION_NETNS=off'
    if (process.platform !== 'linux') return 'ip netns needs Linux'
    if (process.getuid?.() !== 0) return 'ip netns needs root'
    if (!sh('ip', ['-V'], true).ok) return 'the `ip` tool (iproute2) is not installed'
    if (!sh('ss', ['-V'], true).ok) return 'the `ss` tool (iproute2) is not installed'
    const tag = `${process.pid % 10000}${randomInt(100, 999)}`
    const a = randomInt(0, 256)
    const b = randomInt(0, 64) * 4
    const link = new NetnsLink(`cairn-test-${tag}`, `cth${tag}`, `ctn${tag}`, `10.213.${a}.${b + 1}`, `10.213.${a}.${b + 2}`)
    const made = sh('ip', ['netns', 'add', link.ns], true)
    if (!made.ok) return `ip netns add failed: ${made.out.trim()}`
    live.add(link)
    try {
      sh('ip', ['link', 'add', link.hostIf, 'type', 'veth', 'peer', 'name', link.nsIf, 'netns', link.ns])
      sh('ip', ['addr', 'add', `${link.hostIp}/30`, 'dev', link.hostIf])
      sh('ip', ['-n', link.ns, 'addr', 'add', `${link.nsIp}/30`, 'dev', link.nsIf])
      sh('ip', ['-n', link.ns, 'link', 'set', 'lo', 'up'])
      link.heal()
      const ping = sh('ip', ['netns', 'exec', link.ns, 'true'], true)
      if (!ping.ok) throw new Error(`ip netns exec does not work here: ${ping.out.trim()}`)
    } catch (e) {
      link.destroy()
      return (e as Error).message
    }
    return link
  }

  /** argv prefix that runs a command inside the namespace. */
  exec (cmd: string, args: string[]): { cmd: string, args: string[] } {
    return { cmd: 'ip', args: ['netns', 'exec', this.ns, cmd, ...args] }
  }

  cut (): void {
    sh('ip', ['link', 'set', this.hostIf, 'down'])
    sh('ip', ['-n', this.ns, 'link', 'set', this.nsIf, 'down'])
    // Established connections would otherwise linger until libp2p's ping notices.
    sh('ss', ['-K', 'dst', this.nsIp], true)
    sh('ip', ['netns', 'exec', this.ns, 'ss', '-K', 'dst', this.hostIp], true)
  }

  heal (): void {
    sh('ip', ['link', 'set', this.hostIf, 'up'])
    sh('ip', ['-n', this.ns, 'link', 'set', this.nsIf, 'up'])
  }

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    sh('ip', ['netns', 'del', this.ns], true)
    sh('ip', ['link', 'del', this.hostIf], true) // normally gone with its peer already
    live.delete(this)
  }
}
