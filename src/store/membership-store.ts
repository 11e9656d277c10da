/**
 * Named statements for membership state that is not a group record
 * (docs/MEMBERSHIP.md): the invitations this node's entity received, the groups
 * it deleted or left, and circle shares held back until their member accepts.
 * Same database and transactions as Store.
 */
import type { Database, Statement } from 'better-sqlite3'

export interface InviteRow<G extends string = string> {
  id: string, gid: G, inviter: Buffer, role: string, circle: number, received: number, expires: number
  state: 'pending' | 'accepted' | 'declined', record: Buffer, answer: Buffer | null, answered: number | null, delivered: number | null, hints: string
}

export interface EndedGroupRow<G extends string = string> { gid: G, reason: 'deleted' | 'left', at: number, proof: Buffer | null }

/** Typed like Store<G>: rows carry the caller's group ID type. */
export class MembershipStore<G extends string = string> {
  private readonly s: Statements

  constructor (db: Database) { this.s = prepare(db) }

  putInvite (r: InviteRow<G>): void { this.s.putInvite.run(r) }
  invite (id: string): InviteRow<G> | undefined { return this.s.getInvite.get(id) as InviteRow<G> | undefined }
  invitesOf (gid: G): Array<InviteRow<G>> { return this.s.invitesOfGroup.all(gid) as Array<InviteRow<G>> }
  pendingInvites (limit = 1000): Array<InviteRow<G>> { return this.s.pendingInvites.all(limit) as Array<InviteRow<G>> }
  countPending (): number { return (this.s.countPending.get() as { n: number }).n }
  countPendingFrom (inviter: Uint8Array): number { return (this.s.countPendingFrom.get(inviter) as { n: number }).n }
  undeliveredAnswers (limit = 50): Array<InviteRow<G>> { return this.s.undelivered.all(limit) as Array<InviteRow<G>> }
  deleteInvite (id: string): void { this.s.delInvite.run(id) }
  deleteGroupInvites (gid: G): void { this.s.delGroupInvites.run(gid) }
  expiredInvites (now: number): string[] { return (this.s.expiredInvites.all(now) as Array<{ id: string }>).map(r => r.id) }
  /** Did this node's entity accept an invitation to the group? */
  hasAccepted (gid: G): boolean { return this.s.accepted.get(gid) !== undefined }

  markEnded (gid: G, reason: EndedGroupRow['reason'], proof: Uint8Array | null): void { this.s.putEnded.run(gid, reason, Date.now(), proof === null ? null : Buffer.from(proof)) }
  ended (gid: G): EndedGroupRow<G> | undefined { return this.s.getEnded.get(gid) as EndedGroupRow<G> | undefined }
  forgetEnded (gid: G): void { this.s.delEnded.run(gid) }
  allEnded (): Array<{ gid: G, reason: EndedGroupRow['reason'] }> { return this.s.allEnded.all() as Array<{ gid: G, reason: EndedGroupRow['reason'] }> }

  holdShare (gid: G, member: Uint8Array, record: Uint8Array): void { this.s.holdShare.run(gid, Buffer.from(member), Buffer.from(record)) }
  heldShare (gid: G, member: Uint8Array): Buffer | undefined { return (this.s.heldShare.get(gid, Buffer.from(member)) as { record: Buffer } | undefined)?.record }
  releaseShare (gid: G, member: Uint8Array): void { this.s.releaseShare.run(gid, Buffer.from(member)) }
  deleteGroupShares (gid: G): void { this.s.delGroupShares.run(gid) }
}

/** Every membership statement, prepared once per connection. */
function prepare (db: Database) {
  const p = (sql: string): Statement => db.prepare(sql)
  return {
    putInvite: p(`INSERT INTO invites (id, gid, inviter, role, circle, received, expires, state, record, answer, answered, delivered, hints)
                  VALUES (@id, @gid, @inviter, @role, @circle, @received, @expires, @state, @record, @answer, @answered, @delivered, @hints)
                  ON CONFLICT (id) DO UPDATE SET state = excluded.state, answer = excluded.answer, answered = excluded.answered,
                    delivered = excluded.delivered, hints = excluded.hints, expires = excluded.expires`),
    getInvite: p('SELECT * FROM invites WHERE id = ?'),
    invitesOfGroup: p('SELECT * FROM invites WHERE gid = ? ORDER BY received'),
    pendingInvites: p("SELECT * FROM invites WHERE state = 'pending' ORDER BY received LIMIT ?"),
    countPending: p("SELECT count(*) AS n FROM invites WHERE state = 'pending'"),
    countPendingFrom: p("SELECT count(*) AS n FROM invites WHERE state = 'pending' AND inviter = ?"),
    undelivered: p('SELECT * FROM invites WHERE answer IS NOT NULL AND delivered IS NULL ORDER BY answered LIMIT ?'),
    delInvite: p('DELETE FROM invites WHERE id = ?'),
    delGroupInvites: p('DELETE FROM invites WHERE gid = ?'),
    expiredInvites: p("SELECT id FROM invites WHERE state != 'accepted' AND expires < ? LIMIT 500"),
    accepted: p("SELECT 1 FROM invites WHERE gid = ? AND state = 'accepted' LIMIT 1"),
    putEnded: p('INSERT OR REPLACE INTO ended_groups (gid, reason, at, proof) VALUES (?, ?, ?, ?)'),
    getEnded: p('SELECT * FROM ended_groups WHERE gid = ?'),
    delEnded: p('DELETE FROM ended_groups WHERE gid = ?'),
    allEnded: p('SELECT gid, reason FROM ended_groups'),
    holdShare: p('INSERT OR REPLACE INTO held_shares (gid, member, record) VALUES (?, ?, ?)'),
    heldShare: p('SELECT record FROM held_shares WHERE gid = ? AND member = ?'),
    releaseShare: p('DELETE FROM held_shares WHERE gid = ? AND member = ?'),
    delGroupShares: p('DELETE FROM held_shares WHERE gid = ?')
  }
}

type Statements = ReturnType<typeof prepare>
