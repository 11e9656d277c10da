/** What group operations need from the node, passed in by node/ (never imported concretely). */
import type { GroupId } from '../crypto/ids.js'
import type { HybridClock } from '../crypto/hlc.js'
import type { AuditLog } from '../audit/audit-log.js'
import type { Store } from '../store/store.js'
import type { Vault } from '../vault/vault.js'
import type { Acceptor } from './acceptor.js'
import type { GroupRegistry } from './registry.js'

export interface GroupContext {
  store: Store<GroupId>
  registry: GroupRegistry
  acceptor: Acceptor
  clock: HybridClock
  audit: AuditLog
  /** Absent on keepers. */
  vault: Vault | undefined
  limits: { maxItemBytes: number, maxGroups: number }
}
