/**
 * Every configuration key, its type and default. The TOML file, the environment
 * (CAIRN_<SECTION>_<KEY>) and flags all resolve against this table, so an
 * unknown key anywhere is an error rather than silently ignored.
 * config.example.toml documents the same keys (a test keeps them in step).
 */
export const DEFAULTS = {
  node: {
    /** Run as a keeper: no entity, no vault, stores ciphertext it cannot read. */
    keeper: false
  },
  api: {
    host: '127.0.0.1',
    port: 9473,
    /** Largest accepted request body, bytes. */
    max_body_bytes: 2 * 1024 * 1024
  },
  network: {
    listen: ['/ip4/0.0.0.0/tcp/9474'],
    announce: [] as string[],
    bootstrap: [] as string[],
    /** Run kad-dht (peer routing). */
    dht: true,
    /** Provide this node's entity in the DHT, so whoever knows your entity ID can find your node (to add you to a group). */
    dht_announce_entity: true,
    /** Inbound connections accepted per second per host (libp2p default 5 is too low for loopback clusters). */
    inbound_per_second: 100,
    /** Upper bound on open connections. */
    max_connections: 300
  },
  replication: {
    chatty_interval_seconds: 60,
    taciturn_interval_seconds: 900,
    /** Records whose clock is further ahead of ours than this are refused. */
    max_clock_skew_seconds: 300,
    /** Largest record accepted from the network, bytes. */
    max_record_bytes: 2 * 1024 * 1024,
    /** How long a tombstone is kept after the ciphertext is purged, seconds (default 90 days). */
    tombstone_retention_seconds: 90 * 86_400,
    /** How long a stream request may take before it is abandoned, ms. */
    request_timeout_ms: 10_000,
    /** Records per second one peer may have stored in one group (10 s of it at once), beyond which it is throttled. */
    peer_records_per_second: 20_000,
    /** Bytes per second one peer may have stored in one group (10 s of it at once). */
    peer_bytes_per_second: 64 * 1024 * 1024
  },
  limits: {
    /** Largest item document (type + content + meta as JSON), bytes. */
    max_item_bytes: 1024 * 1024,
    max_groups: 10_000
  },
  keeper: {
    /** Entity IDs whose groups this keeper accepts; empty = any. */
    allow_entities: [] as string[],
    /** Most record bytes this node stores in total; 0 = no budget. Past it, new records are refused (storage-full). */
    max_bytes: 0
  },
  circles: {
    /** How long an unsealed circle key stays in memory by default, seconds. */
    default_ttl_seconds: 300,
    /** How long a share request waits for a holder's node to answer (or to say a person decides), ms. */
    request_timeout_ms: 10_000,
    /** How long an unseal waits for people (manual holders) to decide, and a holder keeps a request for its person, seconds. */
    approval_window_seconds: 600,
    /** auto | manual: how this node answers share requests by default. */
    approval: 'auto',
    /** A share request older than this (or from the future by more) is refused, seconds. */
    request_max_age_seconds: 60
  },
  membership: {
    /** Entity IDs whose invitations this node accepts without asking (e.g. the owner of an agent). */
    auto_accept: [] as string[],
    /** Open invitations kept at most, in total. */
    max_pending_invites: 200,
    /** Open invitations kept at most from one inviter. */
    max_pending_per_inviter: 10,
    /** Invitations taken per delivering peer and hour. */
    invites_per_hour_per_peer: 30,
    /** How long an invitation this node sends stays open, seconds (default 14 days). */
    invitation_ttl_seconds: 14 * 86_400,
    /** After this long, any admin's node completes an acceptance or a leave the responsible admin's node has not, seconds. */
    complete_after_seconds: 60,
    /** Delete this node's copies of an item when its source is erased (false: refuse, and report the refusal). */
    honour_erasure: true
  },
  audit: {
    /** Record reads and searches (item IDs, counts) in the audit log. */
    reads: false,
    /** Sign a checkpoint this often when entries were added since the last one, seconds (also every 1,000 entries, at start and at stop). */
    checkpoint_interval_seconds: 300
  },
  crypto: {
    /** libsodium | openssl: what signs and verifies Ed25519 (libsodium is ~2× faster; openssl is also the fallback where libsodium's addon does not load). */
    ed25519: 'libsodium'
  },
  log: {
    /** fatal | error | warn | info | debug | trace | silent */
    level: 'info'
  }
}

type Widen<T> = T extends boolean ? boolean : T extends number ? number : T extends string ? string : T extends string[] ? string[] : never
export type Config = { readonly [S in keyof typeof DEFAULTS]: { readonly [K in keyof typeof DEFAULTS[S]]: Widen<typeof DEFAULTS[S][K]> } } & {
  readonly dataDir: string
}
