/** Prometheus metrics (prom-client), one registry per node so several nodes can share a process in tests. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  readonly stored = new Counter({ name: 'cairn_records_stored_total', help: 'Records stored, by kind and origin', labelNames: ['kind', 'origin'], registers: [this.registry] })
  readonly rejected = new Counter({ name: 'cairn_records_rejected_total', help: 'Records refused by the acceptance gates, by reason and origin', labelNames: ['reason', 'origin'], registers: [this.registry] })
  readonly pushed = new Counter({ name: 'cairn_items_pushed_total', help: 'Records published on gossipsub', registers: [this.registry] })
  readonly pushMessages = new Counter({ name: 'cairn_push_messages_total', help: 'Gossipsub messages published: a record alone, or a bundle of a commit batch\'s records of one group', labelNames: ['kind'], registers: [this.registry] })
  readonly received = new Counter({ name: 'cairn_records_received_total', help: 'Records received from peers, by path', labelNames: ['path'], registers: [this.registry] })
  readonly syncRounds = new Counter({ name: 'cairn_sync_rounds_total', help: 'Anti-entropy sessions, by role and result', labelNames: ['role', 'result'], registers: [this.registry] })
  readonly syncBytes = new Counter({ name: 'cairn_sync_bytes_total', help: 'Anti-entropy bytes, by direction', labelNames: ['direction'], registers: [this.registry] })
  readonly syncRoundTrips = new Counter({ name: 'cairn_sync_round_trips_total', help: 'Anti-entropy round trips', registers: [this.registry] })
  readonly syncIblt = new Counter({ name: 'cairn_sync_iblt_total', help: 'IBLT openings (sync 1.1.0) answered here, by outcome: peeled (settled by the IBLT) or fallback (answered with the range trie)', labelNames: ['result'], registers: [this.registry] })
  readonly peers = new Gauge({ name: 'cairn_peers', help: 'Connected peers', registers: [this.registry] })
  readonly groups = new Gauge({ name: 'cairn_groups', help: 'Groups held', registers: [this.registry] })
  readonly unlocked = new Gauge({ name: 'cairn_vault_unlocked', help: '1 when the vault is unlocked', registers: [this.registry] })
  readonly http = new Counter({ name: 'cairn_http_requests_total', help: 'HTTP requests, by method, route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] })
  readonly pushToStore = new Histogram({
    name: 'cairn_push_to_store_seconds', help: 'From the record clock to stored here (includes clock skew)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry]
  })

  readonly unlockThrottled = new Counter({ name: 'cairn_unlock_throttled_total', help: 'Unlock attempts refused without running (one at a time, pause after wrong passphrases)', registers: [this.registry] })
  readonly shareRequests = new Counter({ name: 'cairn_share_requests_total', help: 'Circle share requests, by side and outcome', labelNames: ['side', 'outcome'], registers: [this.registry] })

  constructor () { collectDefaultMetrics({ register: this.registry, prefix: 'cairn_process_' }) }

  text (): Promise<string> { return this.registry.metrics() }
  get contentType (): string { return this.registry.contentType }
}
