/**
 * Named statements for the network's own tables (migration 4): the address
 * book (`peer_addrs`) and per-group, per-peer replication state (`peer_sync`).
 * Kept apart from store.ts, which holds records: these rows are routing
 * metadata the node learns about its peers, never content.
 */
import type { Database as Db, Statement } from 'better-sqlite3'

export interface PeerAddrRow { peer: string, addr: string, source: string, first_seen: number, last_seen: number, last_ok: number | null, failures: number }
export interface PeerSyncRow { gid: string, peer: string, behind: number, last_sync_at: number | null, last_error: string | null, error_at: number | null }

export class PeerTables {
  private readonly s: Record<string, Statement>

  constructor (private readonly db: Db) {
    const p = (sql: string): Statement => db.prepare(sql)
    this.s = {
      seen: p(`INSERT INTO peer_addrs (peer, addr, source, first_seen, last_seen, last_ok, failures) VALUES (@peer, @addr, @source, @now, @now, NULL, 0)
               ON CONFLICT (peer, addr) DO UPDATE SET last_seen = excluded.last_seen`),
      ok: p(`INSERT INTO peer_addrs (peer, addr, source, first_seen, last_seen, last_ok, failures) VALUES (@peer, @addr, @source, @now, @now, @now, 0)
             ON CONFLICT (peer, addr) DO UPDATE SET last_seen = excluded.last_seen, last_ok = excluded.last_ok, failures = 0`),
      failed: p('UPDATE peer_addrs SET failures = failures + 1 WHERE peer = ? AND addr = ?'),
      failedAll: p('UPDATE peer_addrs SET failures = failures + 1 WHERE peer = ?'),
      addrsOf: p('SELECT * FROM peer_addrs WHERE peer = ? ORDER BY coalesce(last_ok, 0) DESC, last_seen DESC'),
      all: p('SELECT * FROM peer_addrs ORDER BY peer, coalesce(last_ok, 0) DESC'),
      dropAddr: p('DELETE FROM peer_addrs WHERE peer = ? AND addr = ?'),
      dropPeer: p('DELETE FROM peer_addrs WHERE peer = ?'),
      syncGet: p('SELECT * FROM peer_sync WHERE gid = ? AND peer = ?'),
      syncOfGroup: p('SELECT * FROM peer_sync WHERE gid = ?'),
      syncPut: p(`INSERT INTO peer_sync (gid, peer, behind, last_sync_at, last_error, error_at) VALUES (@gid, @peer, @behind, @last_sync_at, @last_error, @error_at)
                  ON CONFLICT (gid, peer) DO UPDATE SET behind = excluded.behind, last_sync_at = excluded.last_sync_at, last_error = excluded.last_error, error_at = excluded.error_at`),
      syncDropGroup: p('DELETE FROM peer_sync WHERE gid = ?'),
      syncDropPeer: p('DELETE FROM peer_sync WHERE gid = ? AND peer = ?')
    }
  }

  /** An address heard of (identify, hint, DHT): known, not yet proven. */
  addrSeen (peer: string, addr: string, source: string, now: number): void { this.s.seen!.run({ peer, addr, source, now }) }
  /** A connection was made on this address. */
  addrOk (peer: string, addr: string, source: string, now: number): void { this.s.ok!.run({ peer, addr, source, now }) }
  addrFailed (peer: string, addr?: string): void {
    if (addr === undefined) this.s.failedAll!.run(peer)
    else this.s.failed!.run(peer, addr)
  }

  /** Best first: the most recently working, then the most recently heard of. */
  addrsOf (peer: string): PeerAddrRow[] { return this.s.addrsOf!.all(peer) as PeerAddrRow[] }
  allAddrs (): PeerAddrRow[] { return this.s.all!.all() as PeerAddrRow[] }
  dropAddr (peer: string, addr: string): void { this.s.dropAddr!.run(peer, addr) }
  dropPeer (peer: string): void { this.s.dropPeer!.run(peer) }

  syncState (gid: string, peer: string): PeerSyncRow | undefined { return this.s.syncGet!.get(gid, peer) as PeerSyncRow | undefined }
  syncStates (gid: string): PeerSyncRow[] { return this.s.syncOfGroup!.all(gid) as PeerSyncRow[] }
  putSyncStates (rows: PeerSyncRow[]): void {
    this.db.transaction(() => { for (const r of rows) this.s.syncPut!.run(r) })()
  }

  dropSyncState (gid: string, peer?: string): void {
    if (peer === undefined) this.s.syncDropGroup!.run(gid)
    else this.s.syncDropPeer!.run(gid, peer)
  }
}
