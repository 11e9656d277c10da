/** Follow a background job to its end, with a progress bar on a terminal. */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CairnClient } from '../client/client.js'
import type { JobView } from '../contract/models.js'
import { CairnError } from '../util/errors.js'

/**
 * Ctrl-C stops the following, not the job: it goes on in the daemon, and the
 * message says so and how to pick it up again (exit status 130).
 */
export async function followJob (client: CairnClient, jobId: string, label: string, showBar: boolean): Promise<JobView> {
  const cliProgress = showBar ? (await import('cli-progress')).default : undefined
  const bar = cliProgress !== undefined ? new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} items | {eta_formatted} left`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined
  let started = false
  const onInt = (): void => {
    bar?.stop()
    process.stderr.write(`\nstopped following job ${jobId}: it goes on in the node. Follow it again with \`cairn jobs ${jobId} --follow\`; \`cairn jobs\` lists every job\n`)
    process.exit(130)
  }
  process.once('SIGINT', onInt)
  // Without a bar (no terminal), one line says what is being waited for and that Ctrl-C is safe.
  if (bar === undefined) process.stderr.write(`following job ${jobId} (Ctrl-C stops following, not the job)\n`)
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
    process.off('SIGINT', onInt)
    bar?.stop()
  }
}
