/**
 * Request schemas compiled on first use instead of at start. fastify compiles
 * every route's schema with ajv while the server gets ready: ~0.12 s of CPU per
 * start for ~60 body schemas (docs/PERFORMANCE.md, "Issue 14, daemon start-up"),
 * paid by every node start although a node answers few of its routes. Each
 * validator here is fastify's own (@fastify/ajv-compiler, fastify's options and
 * ours), built — with the Ajv instance itself — when a request first needs it,
 * so what a request is checked against and the 400 it gets are unchanged.
 */
import AjvCompiler from '@fastify/ajv-compiler'

type BuildValidator = ReturnType<typeof AjvCompiler>
type Compile = ReturnType<BuildValidator>
type Validate = ReturnType<Compile>

/** A `schemaController.compilersFactory.buildValidator` for fastify whose validators compile when first called. */
export function lazyValidators (eager: BuildValidator = AjvCompiler()): BuildValidator {
  return (externalSchemas, options) => {
    let compile: Compile | undefined
    // fastify calls it with the route ({ schema, method, url, httpPart }), not as typed.
    return (...route: Parameters<Compile>) => {
      let v: Validate | undefined
      const get = (): Validate => (v ??= (compile ??= eager(externalSchemas, options))(...route))
      // fastify reads `errors` after a failed call, and passes ajv's data context
      // (so a root value can be replaced) when the function has a schemaEnv.
      const lazy = function (this: unknown, data: unknown, cxt?: unknown): unknown {
        const f = get()
        const ok = (f as (this: unknown, d: unknown, c?: unknown) => unknown).call(this, data, cxt)
        lazy.errors = f.errors
        return ok
      } as unknown as Validate
      Object.defineProperty(lazy, 'schemaEnv', { get: () => get().schemaEnv })
      return lazy
    }
  }
}
