import type { GroupId } from '../../crypto/ids.js'
import type { RouteDef } from '../route.js'
import { Streamed, route } from '../route.js'
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
  route('listAudit', (r, b) => {
    const limit = intParam(r.query.limit, 'limit', { min: 1, max: 1000, def: 100 })!
    const order = r.query.order ?? 'asc'
    if (order !== 'asc' && order !== 'desc') throw new CairnError('INVALID_INPUT', `order must be one of asc, desc; got ${String(order).slice(0, 20)}`)
    if (order === 'desc' && r.query.since !== undefined) throw new CairnError('INVALID_INPUT', 'order=desc lists the newest entries: it takes no since')
    return { entries: order === 'desc' ? b.auditNewest(limit) : b.auditList(intParam(r.query.since, 'since', { min: 0, max: 999_999_999, def: 0 })!, limit) }
  }),
  route('resolveIds', (r, b) => {
    if (r.query.kind !== 'item') throw new CairnError('INVALID_INPUT', 'kind must be one of item')
    const prefix = strParam(r.query.prefix, 'prefix', 36)
    if (prefix === undefined || !/^[0-9a-f-]{1,36}$/i.test(prefix)) throw new CairnError('INVALID_INPUT', 'prefix must be 1–36 characters of an item ID (hex digits and -)')
    return { matches: b.resolveItems(prefix.toLowerCase(), 10) }
  }),
  route('verifyAudit', async (_r, b) => await b.auditVerify()),
  route('exportAudit', (r, b) => {
    const lines = b.auditExport(intParam(r.query.since, 'since', { min: 0, max: 999_999_999, def: 0 })!)
    return new Streamed((function * () { for (const l of lines) yield l + '\n' })())
  }),
  route('getMetrics', async (_r, b) => { const m = await b.metrics(); return { raw: m.text, contentType: m.contentType } })
]
