/** Follow a background job to its end, with a progress bar on a terminal. */
import cliProgress from 'cli-progress'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CairnClient } from '../client/client.js'
import type { JobView } from '../contract/models.js'
import { CairnError } from '../util/errors.js'

export async function followJob (client: CairnClient, jobId: string, label: string, showBar: boolean): Promise<JobView> {
  const bar = showBar ? new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} items | {eta_formatted} left`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined
  let started = false
  try {
    for (;;) {
      const j = await client.getJob(jobId)
      if (bar !== undefined) {
        if (!started) { bar.start(Math.max(j.total, 1), 0); started = true }
        bar.setTotal(Math.max(j.total, 1))
        bar.update(j.done)
      }
      if (j.state === 'done') { bar?.update(Math.max(j.total, 1)); return j }
      if (j.state === 'failed') throw new CairnError('INTERNAL', `${label} failed: ${j.error ?? 'unknown error'}`)
      await sleep(150)
    }
  } finally {
    bar?.stop()
  }
}
