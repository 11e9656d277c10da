import type { GroupId } from '../../crypto/ids.js'
import type { RouteDef } from '../route.js'
import { route } from '../route.js'
import { intParam, strParam } from '../params.js'
import { CairnError } from '../../util/errors.js'

export const nodeRoutes: RouteDef[] = [
  route('health', () => ({ status: 'ok' as const })),
  route('getStatus', (_r, b) => b.status()),
  route('unlock', async (r, b) => { await b.unlock(r.body.passphrase); return { unlocked: true as const } }),
  route('lock', async (_r, b) => { await b.lock(); return { unlocked: false as const } }),
  route('listPeers', (_r, b) => ({ peers: b.peers() })),
  route('dialPeer', async (r, b) => ({ peers: [await b.dial(r.body.multiaddr)] })),
  route('getJob', (r, b) => {
    const j = b.job(r.params.jobId ?? '')
    if (j === undefined) throw new CairnError('NOT_FOUND', `no job ${String(r.params.jobId).slice(0, 64)}`)
    return j
  }),
  route('search', async (r, b) => {
    const q = strParam(r.query.q, 'q', 500)
    if (q === undefined || q.trim() === '') throw new CairnError('INVALID_INPUT', 'q is required')
    const limit = intParam(r.query.limit, 'limit', { min: 1, max: 200, def: 20 })!
    return await b.search(q, limit, strParam(r.query.group, 'group', 64) as GroupId | undefined)
  }),
  route('listAudit', (r, b) => ({ entries: b.auditList(intParam(r.query.since, 'since', { min: 0, max: 999_999_999, def: 0 })!, intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 100 })!) })),
  route('verifyAudit', (_r, b) => b.auditVerify()),
  route('getMetrics', async (_r, b) => { const m = await b.metrics(); return { raw: m.text, contentType: m.contentType } })
]
