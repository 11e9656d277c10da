/**
 * Schema migrations keyed by PRAGMA user_version. Each step runs in one
 * transaction; a database from a newer cairn is refused rather than guessed at.
 *
 * Nothing in this schema is plaintext content: `records.bytes` are signed
 * envelopes whose content is AES-256-GCM ciphertext; the clear columns are the
 * routing metadata a keeper needs (opaque IDs, clocks, versions, sizes).
 */
import type { Database } from 'better-sqlite3'
import { CairnError } from '../util/errors.js'

const steps: string[] = [
  // 1: records, history, groups, audit, jobs, meta
  `
  CREATE TABLE records (
    gid      TEXT    NOT NULL,
    rid      TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    clock    INTEGER NOT NULL,
    kv       INTEGER NOT NULL,
    signer   BLOB    NOT NULL,
    author   BLOB,
    tomb     INTEGER NOT NULL DEFAULT 0,
    hash     BLOB    NOT NULL,
    bytes    BLOB    NOT NULL,
    size     INTEGER NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (gid, rid)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX records_by_hash ON records (gid, hash);
  CREATE INDEX records_by_kind ON records (gid, kind, clock, rid);
  CREATE INDEX records_tombs ON records (tomb, received) WHERE tomb = 1;

  CREATE TABLE history (
    gid   TEXT    NOT NULL,
    rid   TEXT    NOT NULL,
    clock INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    bytes BLOB    NOT NULL,
    PRIMARY KEY (gid, rid, hash)
  ) WITHOUT ROWID;

  CREATE TABLE groups (
    gid       TEXT    PRIMARY KEY,
    desc_ver  INTEGER NOT NULL,
    joined    INTEGER NOT NULL,
    state     TEXT    NOT NULL DEFAULT 'active'
  ) WITHOUT ROWID;

  CREATE TABLE audit (
    seq   INTEGER PRIMARY KEY,
    at    INTEGER NOT NULL,
    kind  TEXT    NOT NULL,
    data  TEXT    NOT NULL,
    prev  BLOB    NOT NULL,
    hash  BLOB    NOT NULL
  );

  CREATE TABLE jobs (
    id       TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    gid      TEXT NOT NULL,
    state    TEXT NOT NULL,
    done     INTEGER NOT NULL DEFAULT 0,
    total    INTEGER NOT NULL DEFAULT 0,
    params   TEXT NOT NULL DEFAULT '{}',
    error    TEXT,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE key_usage (
    gid   TEXT    NOT NULL,
    kv    INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (gid, kv)
  ) WITHOUT ROWID;
  `,
  // 2: delivery outbox (descriptors and keys handed to keepers and new members), vault lookup by entity
  `
  CREATE TABLE outbox (
    target     TEXT    NOT NULL,
    gid        TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    last_error TEXT,
    hint       TEXT,
    PRIMARY KEY (target, gid)
  ) WITHOUT ROWID;
  CREATE INDEX records_vault_by_signer ON records (signer) WHERE kind = 'vault';
  `,
  // 3: records and history as rowid tables. Rows are ~1.3 KB envelopes: in a
  // WITHOUT ROWID b-tree only ~3 fit a page and most spill to overflow pages, so
  // every replace rewrote pages and indexes (measured: 44% of rotation time).
  `
  CREATE TABLE records_v3 (
    id       INTEGER PRIMARY KEY,
    gid      TEXT    NOT NULL,
    rid      TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    clock    INTEGER NOT NULL,
    kv       INTEGER NOT NULL,
    signer   BLOB    NOT NULL,
    author   BLOB,
    tomb     INTEGER NOT NULL DEFAULT 0,
    hash     BLOB    NOT NULL,
    bytes    BLOB    NOT NULL,
    size     INTEGER NOT NULL,
    received INTEGER NOT NULL
  );
  INSERT INTO records_v3 (gid, rid, kind, clock, kv, signer, author, tomb, hash, bytes, size, received)
    SELECT gid, rid, kind, clock, kv, signer, author, tomb, hash, bytes, size, received FROM records;
  DROP TABLE records;
  ALTER TABLE records_v3 RENAME TO records;
  CREATE UNIQUE INDEX records_by_id ON records (gid, rid);
  CREATE UNIQUE INDEX records_by_hash ON records (gid, hash);
  CREATE INDEX records_by_kind ON records (gid, kind, clock, rid);
  CREATE INDEX records_tombs ON records (tomb, received) WHERE tomb = 1;
  CREATE INDEX records_vault_by_signer ON records (signer) WHERE kind = 'vault';
  CREATE INDEX records_stale ON records (gid, kv) WHERE kind = 'item' AND tomb = 0;

  CREATE TABLE history_v3 (
    id    INTEGER PRIMARY KEY,
    gid   TEXT    NOT NULL,
    rid   TEXT    NOT NULL,
    clock INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    bytes BLOB    NOT NULL
  );
  INSERT INTO history_v3 (gid, rid, clock, hash, bytes) SELECT gid, rid, clock, hash, bytes FROM history;
  DROP TABLE history;
  ALTER TABLE history_v3 RENAME TO history;
  CREATE UNIQUE INDEX history_by_version ON history (gid, rid, hash);
  `,
  // 4: membership (docs/MEMBERSHIP.md): invitations this node's entity received
  // (the only trace of a group before consent), groups this node deleted or left
  // (never adopted again), and circle shares held back until their member accepts.
  `
  CREATE TABLE invites (
    id        TEXT    PRIMARY KEY,
    gid       TEXT    NOT NULL,
    inviter   BLOB    NOT NULL,
    role      TEXT    NOT NULL,
    circle    INTEGER NOT NULL,
    received  INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    state     TEXT    NOT NULL,
    record    BLOB    NOT NULL,
    answer    BLOB,
    answered  INTEGER,
    delivered INTEGER,
    hints     TEXT    NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX invites_by_group ON invites (gid);
  CREATE INDEX invites_by_inviter ON invites (inviter, state);

  CREATE TABLE ended_groups (
    gid    TEXT    PRIMARY KEY,
    reason TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    proof  BLOB
  ) WITHOUT ROWID;

  CREATE TABLE held_shares (
    gid    TEXT NOT NULL,
    member BLOB NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (gid, member)
  ) WITHOUT ROWID;
  `,
  // 5: the address book (where group peers were reached) and per-group, per-peer
  // replication state (what a peer lacked at the last reconciliation). Both are
  // routing metadata: peer IDs, multiaddrs, counts, times.
  `
  CREATE TABLE peer_addrs (
    peer       TEXT    NOT NULL,
    addr       TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    last_ok    INTEGER,
    failures   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (peer, addr)
  ) WITHOUT ROWID;

  CREATE TABLE peer_sync (
    gid          TEXT    NOT NULL,
    peer         TEXT    NOT NULL,
    behind       INTEGER NOT NULL,
    last_sync_at INTEGER,
    last_error   TEXT,
    error_at     INTEGER,
    PRIMARY KEY (gid, peer)
  ) WITHOUT ROWID;
  `,
  // 6: the append-only DAG index (ao-index.ts): one row per linked entry (its
  // commitment E, clear fields of the signed record), its parent links, and the
  // current heads, kept in the transaction that stores the entry. Stores from
  // before links existed hold no linked entry: the tables start empty.
  `
  CREATE TABLE ao_entries (
    gid    TEXT    NOT NULL,
    e      BLOB    NOT NULL,
    rid    TEXT    NOT NULL,
    clock  INTEGER NOT NULL,
    author BLOB    NOT NULL,
    kind   TEXT,
    target BLOB,
    PRIMARY KEY (gid, e)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX ao_by_rid ON ao_entries (gid, rid);
  CREATE INDEX ao_by_target ON ao_entries (gid, target) WHERE target IS NOT NULL;
  CREATE TABLE ao_parents (
    gid    TEXT NOT NULL,
    parent BLOB NOT NULL,
    child  BLOB NOT NULL,
    PRIMARY KEY (gid, parent, child)
  ) WITHOUT ROWID;
  CREATE INDEX ao_parents_by_child ON ao_parents (gid, child);
  CREATE TABLE ao_heads (
    gid   TEXT    NOT NULL,
    e     BLOB    NOT NULL,
    clock INTEGER NOT NULL,
    PRIMARY KEY (gid, e)
  ) WITHOUT ROWID;
  `,
  // 7: each group's anti-entropy index (replication/sync-index.ts) as it was
  // when the node last stopped, so a restart does not rebuild it from every
  // hash of the group. A row is valid only while the group's records are
  // unchanged since it was written: these triggers delete it in the very
  // transaction that changes a record (any path, any process), so a crash, a
  // purge or an offline edit can never leave a stale row behind.
  `
  CREATE TABLE sync_index (
    gid   TEXT    PRIMARY KEY,
    depth INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum   BLOB    NOT NULL,
    cells BLOB    NOT NULL,
    saved INTEGER NOT NULL
  );
  CREATE TRIGGER sync_index_stale_ins AFTER INSERT ON records BEGIN DELETE FROM sync_index WHERE gid = NEW.gid; END;
  CREATE TRIGGER sync_index_stale_upd AFTER UPDATE ON records BEGIN DELETE FROM sync_index WHERE gid IN (OLD.gid, NEW.gid); END;
  CREATE TRIGGER sync_index_stale_del AFTER DELETE ON records BEGIN DELETE FROM sync_index WHERE gid = OLD.gid; END;
  `
]

export const SCHEMA_VERSION = steps.length

/**
 * Indexes by role, created or dropped at every open (a keeper started as a
 * member later gets the member's back; nothing in user_version depends on
 * them). A keeper never reads items by kind or key version: listing,
 * searching, exporting, re-encrypting and unsealing items all need group keys
 * it never holds. So its store keeps neither `records_stale` nor
 * `records_by_kind` over items, only `records_by_kind_meta`, the same columns
 * for the other kinds (descriptors, keys, binds, invitations: a few rows per
 * group), which gates, sync and delivery read. Each was one more random
 * b-tree write per received record: dropping `records_by_kind` alone made the
 * insert of a sync batch 1.6× cheaper (docs/PERFORMANCE.md, "Issue 14,
 * catch-up keeper round 2"). The statements that count or list by kind are
 * phrased so that either set answers them (statements.ts).
 */
const ROLE_INDEXES: Record<'keeper' | 'member', Record<string, string>> = {
  member: {
    records_by_kind: 'CREATE INDEX IF NOT EXISTS records_by_kind ON records (gid, kind, clock, rid)',
    records_stale: "CREATE INDEX IF NOT EXISTS records_stale ON records (gid, kv) WHERE kind = 'item' AND tomb = 0"
  },
  keeper: {
    records_by_kind_meta: "CREATE INDEX IF NOT EXISTS records_by_kind_meta ON records (gid, kind, clock, rid) WHERE kind <> 'item'"
  }
}

export type StoreRole = keyof typeof ROLE_INDEXES

export function roleIndexes (db: Database, role: StoreRole): void {
  for (const [r, indexes] of Object.entries(ROLE_INDEXES)) {
    for (const [name, create] of Object.entries(indexes)) db.exec(r === role ? create : `DROP INDEX IF EXISTS ${name}`)
  }
}

export function migrate (db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > SCHEMA_VERSION) {
    throw new CairnError('CONFIG', `this database has schema version ${current}, newer than this cairn understands (${SCHEMA_VERSION}); upgrade cairn`)
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(steps[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
