import type { PendingStats } from '../edge/index.js';
import type { AckStats, CloseReason, HubStats, TransportName } from '../hub/index.js';
import type { JwtVerifierStats, UserCacheStats } from '../users/index.js';

/** What `GET /api/v1/stats` answers: this process's figures, read when asked. */
export interface ServerStats {
  readonly node: string;
  readonly uptimeSeconds: number;
  readonly connections: { readonly total: number; readonly byTransport: Readonly<Record<TransportName, number>>; readonly opened: number };
  readonly usersOnline: number;
  /** Bytes written to connections and not yet taken by their peers. */
  readonly queuedBytes: number;
  readonly closes: Readonly<Record<CloseReason, number>>;
  readonly slowConsumerCloses: number;
  readonly staleCloses: number;
  readonly deliveries: { readonly live: Readonly<Record<TransportName, number>>; readonly replayed: number };
  readonly codes: { readonly published: number; readonly lastId: number; readonly held: number };
  readonly pending: PendingStats;
  readonly userCache: UserCacheStats;
  /** The JWT verifier's figures; null without a JWT key. */
  readonly jwt: JwtVerifierStats | null;
  readonly acks: AckStats;
  readonly database: { readonly queries: number };
  readonly memory: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number };
}

/** Where the figures come from; each is read at the moment stats are asked for. */
export interface StatsSources {
  readonly node: string;
  /** When the process started serving (ms since epoch). */
  readonly startedAt: number;
  readonly hub: () => HubStats;
  readonly pending: () => PendingStats;
  readonly userCache: () => UserCacheStats;
  readonly jwt: () => JwtVerifierStats | null;
  readonly acks: () => AckStats;
  readonly queries: () => number;
}

/** Reads every figure once, into the shape `/api/v1/stats` answers. */
export function readServerStats(sources: StatsSources): ServerStats {
  const memory = process.memoryUsage();
  const hub = sources.hub();
  return {
    node: sources.node,
    uptimeSeconds: Math.round((Date.now() - sources.startedAt) / 1000),
    connections: { total: hub.connections, byTransport: hub.byTransport, opened: hub.opened },
    usersOnline: hub.usersOnline,
    queuedBytes: hub.queuedBytes,
    closes: hub.closes,
    slowConsumerCloses: hub.closes.slow_consumer,
    staleCloses: hub.closes.stale,
    deliveries: { live: hub.delivered, replayed: hub.replayed },
    codes: { published: hub.codesBroadcast, lastId: hub.lastId, held: hub.historySize },
    pending: sources.pending(),
    userCache: sources.userCache(),
    jwt: sources.jwt(),
    acks: sources.acks(),
    database: { queries: sources.queries() },
    memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
  };
}
