import type { ApiBackend } from '../backend.js'
import { intParam, strParam } from '../params.js'
import type { RouteDef } from '../route.js'
import { S } from '../schemas.js'
import { CairnError } from '../../util/errors.js'

export const nodeRoutes: Array<RouteDef<ApiBackend>> = [
  { method: 'GET', path: '/api/v1/health', tag: 'node', auth: false, summary: 'Liveness (no token)', handler: () => ({ status: 'ok' }) },
  { method: 'GET', path: '/api/v1/status', tag: 'node', summary: 'Node identity, addresses, lock state and counts', handler: (_r, b) => b.status() },
  {
    method: 'POST', path: '/api/v1/unlock', tag: 'node', body: S.unlock, summary: 'Unlock the vault with the passphrase (401 BAD_PASSPHRASE when wrong)',
    handler: async (r, b) => { await b.unlock((r.body as { passphrase: string }).passphrase); return { unlocked: true } }
  },
  { method: 'POST', path: '/api/v1/lock', tag: 'node', summary: 'Lock the vault; keys are zeroized', handler: async (_r, b) => { await b.lock(); return { unlocked: false } } },
  { method: 'GET', path: '/api/v1/peers', tag: 'network', summary: 'Connected peers', handler: (_r, b) => ({ peers: b.peers() }) },
  {
    method: 'POST', path: '/api/v1/peers', tag: 'network', body: S.dial, summary: 'Dial a peer by multiaddr',
    handler: async (r, b) => ({ peers: [await b.dial((r.body as { multiaddr: string }).multiaddr)] })
  },
  {
    method: 'GET', path: '/api/v1/jobs/:jobId', tag: 'groups', summary: 'Progress of a background job (rotation re-encryption)',
    handler: (r, b) => {
      const j = b.job(r.params.jobId ?? '')
      if (j === undefined) throw new CairnError('NOT_FOUND', `no job ${String(r.params.jobId).slice(0, 64)}`)
      return j
    }
  },
  {
    method: 'GET', path: '/api/v1/search', tag: 'items', summary: 'Full-text search over decrypted items (in-memory index)',
    query: { q: { type: 'string', description: 'words to find' }, group: { type: 'string', description: 'limit to one group' }, limit: { type: 'integer', description: '1–200, default 20' } },
    handler: (r, b) => {
      const q = strParam(r.query.q, 'q', 500)
      if (q === undefined || q.trim() === '') throw new CairnError('INVALID_INPUT', 'q is required')
      const limit = intParam(r.query.limit, 'limit', { min: 1, max: 200, def: 20 })!
      return { results: b.search(q, limit, strParam(r.query.group, 'group', 64)) }
    }
  },
  {
    method: 'GET', path: '/api/v1/audit', tag: 'audit', summary: 'Audit log entries after `since` (a sequence number), oldest first; or the newest first with order=desc',
    query: { since: { type: 'integer', description: 'sequence number to start after (default 0)' }, limit: { type: 'integer', description: '1–1000, default 100' }, order: { type: 'string', description: 'asc (default: from `since` on) or desc (the newest entries, newest first)' } },
    handler: (r, b) => {
      const limit = intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 100 })!
      const order = r.query.order ?? 'asc'
      if (order !== 'asc' && order !== 'desc') throw new CairnError('INVALID_INPUT', `order must be one of asc, desc; got ${String(order).slice(0, 20)}`)
      if (order === 'desc' && r.query.since !== undefined) throw new CairnError('INVALID_INPUT', 'order=desc lists the newest entries: it takes no since')
      return { entries: order === 'desc' ? b.auditNewest(limit) : b.auditList(intParam(r.query.since, 'since', { min: 0, max: 999_999_999, def: 0 })!, limit) }
    }
  },
  {
    method: 'GET', path: '/api/v1/resolve', tag: 'items', summary: 'Item IDs starting with a prefix (at most 10), for clients that accept short IDs',
    query: { kind: { type: 'string', description: 'item' }, prefix: { type: 'string', description: 'at least 1 hex character of an item ID' } },
    handler: (r, b) => {
      if (r.query.kind !== 'item') throw new CairnError('INVALID_INPUT', 'kind must be one of item')
      const prefix = strParam(r.query.prefix, 'prefix', 36)
      if (prefix === undefined || !/^[0-9a-f-]{1,36}$/i.test(prefix)) throw new CairnError('INVALID_INPUT', 'prefix must be 1–36 characters of an item ID (hex digits and -)')
      return { matches: b.resolveItems(prefix.toLowerCase(), 10) }
    }
  },
  { method: 'GET', path: '/api/v1/audit/verify', tag: 'audit', summary: 'Verify the audit hash chain and checkpoint signatures', handler: (_r, b) => b.auditVerify() },
  {
    method: 'GET', path: '/metrics', tag: 'node', summary: 'Prometheus metrics (token required)',
    handler: async (_r, b) => { const m = await b.metrics(); return { raw: m.text, contentType: m.contentType } }
  }
]
