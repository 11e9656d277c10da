/**
 * `cairn/client`: the typed SDK of a cairn node's local API.
 *
 *   import { CairnClient, CairnError } from 'cairn/client'
 *   const cairn = new CairnClient()                 // the node of ~/.cairn (or CAIRN_DATA_DIR)
 *   const { results } = await cairn.search('release')
 *   for await (const e of cairn.events()) console.log(e.type, e.id)
 */
export { CairnClient, type CairnClientOptions, type BodyOf, type ResponseOf, type RequestArgs } from './client.js'
export { EventStream } from './events.js'
export { baseUrlOf, tokenOf, endpointOf, type Endpoint } from './endpoint.js'
export { CairnError, isCairnError, type ErrorCode } from '../util/errors.js'
export { routes, type OperationId, type RouteSpec } from '../contract/routes.js'
export type * from '../contract/models.js'
