import type { ApiBackend } from '../backend.js'
import { intParam, strParam } from '../params.js'
import type { RouteDef } from '../route.js'
import { S } from '../schemas.js'
import { CairnError } from '../../util/errors.js'

const AUDIT_ENTRY = {
  type: 'object', required: ['seq', 'at', 'kind', 'hash', 'prevHash'], additionalProperties: true,
  properties: { seq: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, kind: { type: 'string' }, hash: { type: 'string' }, prevHash: { type: 'string' } }
}

const AUDIT_VERDICT = {
  type: 'object', required: ['ok', 'entries', 'checkpoints', 'signedUpTo', 'tail'],
  properties: {
    ok: { type: 'boolean' }, entries: { type: 'integer' }, brokenAt: { type: 'integer' },
    reason: { type: 'string', enum: ['gap', 'prev-mismatch', 'hash-mismatch', 'checkpoint-malformed', 'checkpoint-mismatch', 'checkpoint-foreign-key', 'checkpoint-bad-signature', 'truncated', 'rewritten', 'foreign-key'] },
    checkpoints: { type: 'integer' }, signedUpTo: { type: 'integer' },
    tail: { type: 'object', properties: { seq: { type: 'integer' }, hash: { type: 'string' } } },
    keepers: {
      type: 'object',
      properties: {
        refreshed: { type: 'boolean' }, checkpoints: { type: 'integer' }, newestUpTo: { type: 'integer' }, ok: { type: 'boolean' },
        brokenAt: { type: 'integer' }, reason: { type: 'string', enum: ['truncated', 'rewritten', 'foreign-key'] }, error: { type: 'string' }
      }
    }
  }
}

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
    handler: async (r, b) => {
      const q = strParam(r.query.q, 'q', 500)
      if (q === undefined || q.trim() === '') throw new CairnError('INVALID_INPUT', 'q is required')
      const limit = intParam(r.query.limit, 'limit', { min: 1, max: 200, def: 20 })!
      const group = strParam(r.query.group, 'group', 64)
      return { results: await b.read(() => b.search(q, limit, group)) }
    }
  },
  {
    method: 'GET', path: '/api/v1/audit', tag: 'audit', summary: 'Audit log entries after `since` (a sequence number)',
    query: { since: { type: 'integer', description: 'sequence number to start after (default 0)' }, limit: { type: 'integer', description: '1–1000, default 100' } },
    handler: (r, b) => ({ entries: b.auditList(intParam(r.query.since, 'since', { min: 0, max: 999_999_999, def: 0 })!, intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 100 })!) })
  },
  {
    method: 'GET', path: '/api/v1/audit/verify', tag: 'audit', response: AUDIT_VERDICT,
    summary: 'Verify the audit hash chain, every checkpoint against this node\'s own key, and (entity nodes) the checkpoints held by the personal group\'s keepers; {ok:false, brokenAt, reason} names the first entry that was edited, removed or inserted',
    handler: async (_r, b) => await b.auditVerify()
  },
  {
    method: 'GET', path: '/api/v1/audit/export', tag: 'audit', contentType: 'application/x-ndjson', response: AUDIT_ENTRY,
    summary: 'The audit log as JSON Lines (application/x-ndjson), streamed: one entry per line as in GET /api/v1/audit, checkpoints included',
    query: { since: { type: 'integer', description: 'sequence number to start after (default 0: the whole log)' } },
    handler: (r, b) => {
      const lines = b.auditExport(intParam(r.query.since, 'since', { min: 0, max: 999_999_999, def: 0 })!)
      return { contentType: 'application/x-ndjson', stream: (function * () { for (const l of lines) yield l + '\n' })() }
    }
  },
  {
    method: 'GET', path: '/metrics', tag: 'node', summary: 'Prometheus metrics (token required)',
    handler: async (_r, b) => { const m = await b.metrics(); return { raw: m.text, contentType: m.contentType } }
  }
]
