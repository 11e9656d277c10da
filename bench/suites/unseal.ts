/**
 * unseal: the circles suite's unseal loop alone (no rotation phase), with more
 * samples — for working on issue 14's unseal target (p50 ≤ 1.3× the fan-out to the
 * four holders waiting for the first two, measured in the same loop). Set-up and
 * rows: circles.ts (startCircle, unsealRows). Runs only when named.
 */
import type { Suite } from '../lib/types.js'
import { startCircle, unsealRows } from './circles.js'

export const unsealSuite: Suite = {
  name: 'unseal',
  description: '3-of-5 circle over 5 member processes: the unseal loop alone (circles without its rotation phase), 100 unseals',
  explicit: true,
  async run (ctx) {
    const cluster = await startCircle(ctx)
    return await unsealRows(ctx, cluster, ctx.quick ? 5 : 100, 'unseal')
  }
}
