/**
 * Consent for tests that need members but are not about consent: an entity
 * without a node of its own (a key in the test process) answers an invitation
 * of an in-process node, or an in-process node accepts an invitation another
 * entity's key signed — the same records a real invitee or inviter would send.
 */
import { makeClock } from '../../src/crypto/hlc.js'
import type { GroupId } from '../../src/crypto/ids.js'
import type { SigningKey } from '../../src/crypto/sign.js'
import type { Role } from '../../src/records/descriptor.js'
import { inviteId, signAnswer, signInvite } from '../../src/records/invite.js'
import { fromStore } from '../../src/records/record.js'
import type { Services } from '../../src/node/services.js'

/** `key`'s entity accepts (or declines) the invitation `s` stored for it in `gid`; its admin's node completes it. */
export function answerAs (s: Services, gid: string, key: SigningKey, accept = true): void {
  const row = s.store.getHead(gid, inviteId(gid as GroupId, key.publicKey))
  if (row === undefined) throw new Error(`no invitation for that key in ${gid}`)
  const a = signAnswer(key, gid as GroupId, makeClock(Date.now(), 1), fromStore(row, 'invite'), accept)
  const [res] = s.acceptor.ingest([a.bytes], 'delivery')
  if (res?.status !== 'stored') throw new Error(`the answer was not stored: ${res?.reason ?? res?.status}`)
}

/** `s`'s entity receives an invitation signed by `inviter` to `gid`, and accepts it. */
export function acceptInvitationFrom (s: Services, inviter: SigningKey, gid: string, role: Role = 'member', name = 'a group'): void {
  const inv = signInvite(inviter, {
    groupId: gid as GroupId, clock: makeClock(Date.now(), 0), to: s.vault!.entityKey().publicKey, role, state: 'open',
    expiresAt: Date.now() + 86_400_000, memberExpiresAt: 0, circle: false, name
  })
  const r = s.inbox!.offer(inv.bytes, 'test', [])
  if (r.status !== 'pending') throw new Error(`the invitation was not taken: ${r.status} ${r.reason ?? ''}`)
  s.inbox!.accept(Buffer.from(inv.hash).toString('hex'))
}
