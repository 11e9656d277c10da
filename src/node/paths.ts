/** The layout of a data directory: defined in util/ so the client (which must not import node/) reads the same names. */
export { dataPaths, type DataPaths } from '../util/data-paths.js'
