import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AckStats, CloseReason, HubObserver, HubStats, TransportName } from '../hub/index.js';
import type { JwtOutcome, JwtVerifierStats, UserCacheStats } from '../users/index.js';

export interface MetricSources {
  readonly hub: () => HubStats;
  readonly userCache: () => UserCacheStats;
  readonly acks: () => AckStats;
  /** Whether the broker carries messages between nodes now (always, for one process). */
  readonly brokerUp: () => boolean;
  /** The JWT verifier's figures; undefined without a JWT key (the series then read 0). */
  readonly jwt: () => JwtVerifierStats | undefined;
}

/** Every outcome, read 0 without a JWT key (typed so that a new outcome must be added here). */
const NO_JWT_VERIFICATIONS: Readonly<Record<JwtOutcome, number>> = { accepted: 0, expired: 0, refused: 0 };

/** A counter whose value is read at scrape time from something that already counts. */
function countedElsewhere(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * The Prometheus view of codecast (prom-client), in its own registry so that
 * several servers in one process never share series. It is also the hub's
 * observer: counts and histograms are fed as things happen.
 */
export class Metrics implements HubObserver {
  readonly registry = new Registry();
  readonly #opened: Counter<'transport'>;
  readonly #closed: Counter<'transport' | 'reason'>;
  readonly #deliveries: Counter<'transport' | 'kind'>;
  readonly #fanOut: Histogram;
  readonly #publishToAck: Histogram;
  readonly #queryDuration: Histogram;
  readonly #catchUps: Counter;
  /** The hub's figures for the scrape in progress: several metrics read them, and each reading walks every connection. */
  #hubReading: HubStats | undefined;

  constructor(given: MetricSources) {
    const sources: MetricSources = {
      ...given,
      hub: () => (this.#hubReading ??= given.hub()),
    };
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'codecast_connections',
      help: 'Open subscriber connections by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        const { byTransport } = sources.hub();
        for (const [transport, count] of Object.entries(byTransport)) this.set({ transport }, count);
      },
    });
    new Gauge({
      name: 'codecast_users_online',
      help: 'Users with at least one open connection.',
      registers,
      collect() {
        this.set(sources.hub().usersOnline);
      },
    });
    new Gauge({
      name: 'codecast_queued_bytes',
      help: 'Bytes written to connections and not yet taken by the clients.',
      registers,
      collect() {
        this.set(sources.hub().queuedBytes);
      },
    });
    this.#opened = new Counter({
      name: 'codecast_connections_opened_total',
      help: 'Connections opened, by transport.',
      labelNames: ['transport'],
      registers,
    });
    this.#closed = new Counter({
      name: 'codecast_connections_closed_total',
      help: 'Connections closed, by transport and reason (client_closed, slow_consumer, stale, shutdown, user_disabled, token_revoked, protocol_error, too_many_messages, error).',
      labelNames: ['transport', 'reason'],
      registers,
    });
    countedElsewhere(
      this.registry,
      'codecast_slow_consumer_closes_total',
      'Connections closed because they fell behind by more than the queue bound.',
      () => sources.hub().closes.slow_consumer,
    );
    countedElsewhere(
      this.registry,
      'codecast_stale_closes_total',
      'Connections closed by the sweeper for showing no sign of life.',
      () => sources.hub().closes.stale,
    );
    countedElsewhere(
      this.registry,
      'codecast_codes_published_total',
      'Codes broadcast by this process.',
      () => sources.hub().codesBroadcast,
    );
    this.#deliveries = new Counter({
      name: 'codecast_deliveries_total',
      help: 'Codes handed to connections, by transport and kind (live or replay).',
      labelNames: ['transport', 'kind'],
      registers,
    });
    this.#fanOut = new Histogram({
      name: 'codecast_fanout_duration_seconds',
      help: 'Time from a code entering the fan-out until every local connection had been written it.',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.#publishToAck = new Histogram({
      name: 'codecast_publish_to_ack_seconds',
      help: 'Time from publishing a code to a user acking it (first ack per user).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.#queryDuration = new Histogram({
      name: 'codecast_db_query_duration_seconds',
      help: 'Database query duration.',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    new Gauge({
      name: 'codecast_user_cache_entries',
      help: 'Tokens in the user cache (known users).',
      registers,
      collect() {
        this.set(sources.userCache().size);
      },
    });
    new Gauge({
      name: 'codecast_user_cache_negative_entries',
      help: 'Unknown tokens remembered by the negative cache.',
      registers,
      collect() {
        this.set(sources.userCache().negativeSize);
      },
    });
    countedElsewhere(
      this.registry,
      'codecast_user_cache_hits_total',
      'Authentications answered from the cache (negative hits included).',
      () => {
        const stats = sources.userCache();
        return stats.hits + stats.negativeHits;
      },
    );
    countedElsewhere(
      this.registry,
      'codecast_user_cache_misses_total',
      'Authentications that had to wait for the database.',
      () => sources.userCache().misses,
    );
    new Counter({
      name: 'codecast_jwt_verifications_total',
      help: 'JWT signatures checked, by outcome: accepted, expired (the signature verified, exp past) or refused.',
      labelNames: ['outcome'],
      registers,
      collect() {
        const verifications = sources.jwt()?.verifications ?? NO_JWT_VERIFICATIONS;
        this.reset();
        for (const [outcome, count] of Object.entries(verifications)) this.inc({ outcome }, count);
      },
    });
    countedElsewhere(
      this.registry,
      'codecast_jwt_cache_hits_total',
      'JWTs answered without a signature check: verified ones until their exp, expired ones as such.',
      () => sources.jwt()?.cacheHits ?? 0,
    );
    new Gauge({
      name: 'codecast_jwt_cached',
      help: 'Verified JWTs remembered until their exp.',
      registers,
      collect() {
        this.set(sources.jwt()?.cached ?? 0);
      },
    });
    countedElsewhere(this.registry, 'codecast_acks_total', 'First acks of codes by users.', () => sources.acks().total);
    new Gauge({
      name: 'codecast_broker_up',
      help: 'Whether this node can reach the broker that carries codes between nodes (1) or not (0); always 1 for one process.',
      registers,
      collect() {
        this.set(sources.brokerUp() ? 1 : 0);
      },
    });
    this.#catchUps = new Counter({
      name: 'codecast_catch_ups_total',
      help: 'Times this node read from the database what the broker may not have brought it (a gap in ids, a reconnect, Redis restarted empty).',
      registers,
    });
    // Pre-create the labelled series so they read 0 before anything happens.
    for (const transport of ['sse', 'ws', 'socketio'] as const) {
      this.#opened.inc({ transport }, 0);
      this.#deliveries.inc({ transport, kind: 'live' }, 0);
      this.#deliveries.inc({ transport, kind: 'replay' }, 0);
    }
  }

  opened(transport: TransportName): void {
    this.#opened.inc({ transport });
  }

  closed(connection: { readonly transport: TransportName }, reason: CloseReason): void {
    this.#closed.inc({ transport: connection.transport, reason });
  }

  delivered(transport: TransportName, count: number, kind: 'live' | 'replay'): void {
    this.#deliveries.inc({ transport, kind }, count);
  }

  fannedOut(ms: number): void {
    this.#fanOut.observe(ms / 1000);
  }

  acked(latencyMs: number): void {
    this.#publishToAck.observe(latencyMs / 1000);
  }

  caughtUp(): void {
    this.#catchUps.inc();
  }

  queried(ms: number): void {
    this.#queryDuration.observe(ms / 1000);
  }

  async text(): Promise<string> {
    this.#hubReading = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.#hubReading = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
