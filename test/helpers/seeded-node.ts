/**
 * A member node's data dir that already holds a group of `items` items,
 * written in this process through the real services (ItemService.create,
 * many per transaction: sealed, signed, through the acceptance gates) — the
 * same records a node writes for HTTP writes, without a request each. Every
 * item is committed, i.e. acknowledged.
 */
import { initNode } from '../../src/node/init.js'
import { loadConfig } from '../../src/config/load.js'
import { loadNodeKey } from '../../src/node/node-key.js'
import { dataPaths } from '../../src/node/paths.js'
import { buildServices } from '../../src/node/services.js'
import { silentLogger } from '../../src/util/logger.js'
import { PASSPHRASE, tempDir } from './cli.js'

export interface SeededNode { dataDir: string, gid: string, entityId: string, personalGroupId: string, expected: Map<string, string> }

export async function seededNode (items: number, o: { bytes?: number, culture?: 'chatty' | 'taciturn' } = {}): Promise<SeededNode> {
  const dataDir = tempDir('cairn-seeded-')
  const init = await initNode({ dataDir, keeper: false, passphrase: PASSPHRASE, env: {} })
  const s = buildServices(loadConfig(dataDir, { env: {} }), loadNodeKey(dataPaths(dataDir).nodeKey), silentLogger())
  const expected = new Map<string, string>()
  try {
    await s.unlock(PASSPHRASE)
    s.search.close()
    const g = s.groups.create({ name: 'seeded', culture: o.culture ?? 'taciturn' })
    const pad = 'x'.repeat(Math.max(0, (o.bytes ?? 200) - 20))
    for (let done = 0; done < items;) {
      const k = Math.min(1000, items - done)
      s.store.tx(() => {
        for (let i = 0; i < k; i++) {
          const content = `seeded ${done + i} ${pad}`
          expected.set(s.items.create(g.id, { content }).id, content)
        }
      })
      done += k
    }
    return { dataDir, gid: g.id, entityId: init.entityId!, personalGroupId: init.personalGroupId!, expected }
  } finally {
    await s.close()
  }
}
