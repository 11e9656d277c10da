/** The HTTP API's contract as data: models, request bodies, routes (TypeBox). Imports nothing of ours. */
export * from './models.js'
export * from './bodies.js'
export * from './routes.js'
