/**
 * In-memory view of the groups this node holds: one DescriptorChain per group,
 * loaded from the store on first use and extended as descriptors are accepted.
 */
import type { GroupId } from '../crypto/ids.js'
import { fromStore } from '../records/record.js'
import type { Store } from '../store/store.js'
import { DescriptorChain } from './descriptor-chain.js'

export class GroupRegistry {
  private readonly chains = new Map<string, DescriptorChain>()

  constructor (private readonly store: Store<GroupId>) {}

  chain (gid: GroupId): DescriptorChain | undefined {
    let c = this.chains.get(gid)
    if (c !== undefined) return c
    const row = this.store.getGroup(gid)
    if (row === undefined || row.state !== 'active') return undefined
    c = new DescriptorChain(this.store.allOfKind(gid, 'desc').map(r => fromStore(r, 'desc')))
    if (c.length === 0) return undefined
    this.chains.set(gid, c)
    return c
  }

  has (gid: GroupId): boolean { return this.chain(gid) !== undefined }

  /** Install a chain after its descriptors were stored. */
  set (gid: GroupId, chain: DescriptorChain): void { this.chains.set(gid, chain) }

  groupIds (): GroupId[] { return this.store.listGroups().map(g => g.gid) }
}
