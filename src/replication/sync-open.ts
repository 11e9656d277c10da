/**
 * The descriptors a sync opening may carry (sync-protocol.ts header): an
 * initiator refused before any turn opens again with its newest descriptors of
 * the group, so a fellow holder whose view is behind (the descriptor naming a
 * just-added keeper has not reached it) can judge whether to let it in.
 */
import type { GroupId } from '../crypto/ids.js'
import type { Acceptor } from '../groups/acceptor.js'
import type { Store } from '../store/store.js'
import { ProtocolError } from './channel.js'
import type { Verifier } from './verifier.js'

/** Descriptors an initiator may put in an opening. */
export const MAX_OPEN_DESCS = 8

/** The group's newest descriptors, oldest first, within half a message. */
export function newestDescriptors (store: Store<GroupId>, gid: GroupId, maxMessageBytes: number): Uint8Array[] {
  const all = store.allOfKind(gid, 'desc')
  const out: Uint8Array[] = []
  let size = 0
  for (let i = all.length - 1; i >= 0 && out.length < MAX_OPEN_DESCS; i--) {
    size += all[i]!.bytes.length
    if (size > maxMessageBytes / 2) break
    out.unshift(all[i]!.bytes)
  }
  return out
}

/**
 * Descriptors an initiator we do not let in sent with its opening: verified,
 * then judged by the Acceptor as any synced record (only descriptors of this
 * group are looked at: nothing else rides in on an opening). True when one was
 * stored (our view moved on, so authorisation is worth asking again).
 */
export async function learnDescriptors (d: { store: Store<GroupId>, acceptor: Acceptor, verifier: Verifier, maxRecordBytes: number }, peer: string, gid: GroupId, descs: unknown): Promise<boolean> {
  if (!Array.isArray(descs) || descs.length > MAX_OPEN_DESCS || !descs.every(x => x instanceof Uint8Array)) throw new ProtocolError('bad descriptors in the opening')
  const checked = await d.verifier.check(descs as Uint8Array[], d.maxRecordBytes)
  const ours = checked.flatMap(c => c.ok && c.rec.rec.t === 'desc' && c.rec.groupId === gid ? [c.rec] : [])
  if (ours.length === 0) return false
  const res = d.store.relaxed(() => d.acceptor.ingest(ours, 'sync', { peer, group: gid }))
  return res.some(r => r.status === 'stored')
}
