/** Loopback Host names: the API and `cairn mcp --http` answer only requests addressed to these (DNS-rebinding defence). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/** A Host header value (`name[:port]`) that names this machine's loopback interface. */
export function hostIsLoopback (host: string | undefined): boolean {
  if (host === undefined || host.length > 300) return false
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(host.trim().toLowerCase())
  return m !== null && LOOPBACK.has(m[1]!)
}
