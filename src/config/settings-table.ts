import { JWT_ALGORITHMS } from './jwt-keys.js';

/**
 * The one table of environment variables codecast reads. Each entry names
 * its variable, its default and what it accepts; `loadConfig` validates all of
 * them at once and the README's settings table is kept in step by a test.
 */

export type SettingKind =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'string'; allowEmpty?: boolean }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'database-url' }
  | { kind: 'redis-url' }
  | { kind: 'address-list' }
  | { kind: 'origin-list' }
  | { kind: 'optional-string' }
  | { kind: 'token' }
  /** A secret of at least `minBytes` bytes (as UTF-8); never echoed. */
  | { kind: 'secret'; minBytes: number }
  /** A public key (PEM, `@file`, JWK), parsed at start; never echoed either. */
  | { kind: 'public-key' }
  /** Comma-separated non-empty values. */
  | { kind: 'list' }
  /** Comma-separated values, each one of `values`. */
  | { kind: 'enum-list'; values: readonly string[] };

export interface SettingSpec {
  readonly env: string;
  /** The default as it would be written in the environment; undefined means unset. */
  readonly default: string | undefined;
  readonly type: SettingKind;
  readonly description: string;
}

const int = (min: number, max: number): SettingKind => ({ kind: 'integer', min, max });

export const settingsTable = [
  { env: 'PORT', default: '8080', type: int(0, 65535), description: 'TCP port to listen on (0 picks a free one).' },
  { env: 'HOST', default: '0.0.0.0', type: { kind: 'string' }, description: 'Address to listen on.' },
  {
    env: 'CODECAST_LISTEN_BACKLOG',
    default: '511',
    type: int(1, 65535),
    description:
      "Connections the kernel may complete and hold for codecast to accept while it is busy; past it a client's connection attempt waits for a retransmission (1 s, then 3 s). Larger helps a crowd reconnecting at once; smaller keeps a flood of connections from queueing ahead of everyone else. The kernel caps it at `net.core.somaxconn`: raise both together.",
  },
  {
    env: 'DATABASE_URL',
    default: 'sqlite:./data/codecast.db',
    type: { kind: 'database-url' },
    description:
      'Where codes and users live: `sqlite:PATH` (or a bare path) for the embedded store, or `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (`postgresql://` too; TLS options such as `?sslmode=require` as `pg` reads them) for PostgreSQL.',
  },
  {
    env: 'CODECAST_DB_POOL_MAX',
    default: '10',
    type: int(1, 1000),
    description: 'PostgreSQL: most connections a process opens (the pool size). Ignored on SQLite.',
  },
  {
    env: 'CODECAST_DB_CONNECT_TIMEOUT_SECONDS',
    default: '10',
    type: int(1, 300),
    description: 'PostgreSQL: how long opening a connection may take before the attempt fails. Ignored on SQLite.',
  },
  {
    env: 'CODECAST_DB_STATEMENT_TIMEOUT_SECONDS',
    default: '30',
    type: int(1, 3600),
    description:
      'PostgreSQL: how long one statement may run before the server cancels it (the client gives up 5 s later). Ignored on SQLite.',
  },
  {
    env: 'REDIS_URL',
    default: undefined,
    type: { kind: 'redis-url' },
    description:
      'Unset: one process, codes shared in memory. `redis://[USER:PASSWORD@]HOST:PORT[/DB]` (`rediss://` for TLS): this process is one node of a cluster; every node started with the same `DATABASE_URL` (PostgreSQL only) and `REDIS_URL` is part of one deployment.',
  },
  {
    env: 'CODECAST_REDIS_PREFIX',
    default: 'codecast',
    type: { kind: 'string' },
    description:
      'With REDIS_URL: the prefix of every Redis key codecast uses, so several deployments can share one Redis. Every node of a deployment must use the same.',
  },
  {
    env: 'CODECAST_NODE_TTL_SECONDS',
    default: '15',
    type: int(3, 300),
    description:
      "With REDIS_URL: how long a node's lease lasts without a heartbeat. A node that dies stops counting (its connections leave the per-user counts, it leaves `/api/v1/stats`) within this time.",
  },
  {
    env: 'LOG_LEVEL',
    default: 'info',
    type: { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    description: 'Least severe log level written: `fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`.',
  },
  {
    env: 'CODECAST_ADMIN_TOKEN',
    default: undefined,
    type: { kind: 'token' },
    description:
      'Token (16-256 visible ASCII characters) for the first admin, created at start when no admin exists; when unset a new token is printed once.',
  },
  {
    env: 'CODECAST_PUBLIC_URL',
    default: undefined,
    type: { kind: 'optional-string' },
    description: 'Base URL printed for the pages at start (defaults to `http://localhost:PORT`).',
  },
  {
    env: 'CODECAST_METRICS_TOKEN',
    default: undefined,
    type: { kind: 'token' },
    description: 'When set, `/metrics` wants `Authorization: Bearer <this>`; unset, it is open (for a scraper on a private network).',
  },
  {
    env: 'CODECAST_MAX_CONNECTIONS',
    default: '10000',
    type: int(1, 1_000_000),
    description: 'Global cap on open subscriber connections, all transports together; over it a new client gets 503 with Retry-After.',
  },
  {
    env: 'CODECAST_MAX_CONNECTIONS_PER_USER',
    default: '10',
    type: int(1, 100_000),
    description:
      "Cap on one user's open connections (tabs, devices); over it a new one gets 429. With `REDIS_URL` it counts the user's connections on every live node (on this node alone while Redis cannot be asked).",
  },
  {
    env: 'CODECAST_CONNECTION_QUEUE',
    default: '100',
    type: int(1, 100_000),
    description: 'Frames a connection may have waiting unsent before it is closed as a slow consumer (it then recovers by replay).',
  },
  {
    env: 'CODECAST_HEARTBEAT_SECONDS',
    default: '15',
    type: int(1, 3600),
    description: 'Period of `ping` heartbeats to every connection.',
  },
  {
    env: 'CODECAST_SWEEP_SECONDS',
    default: '60',
    type: int(1, 3600),
    description: 'Period of the sweep that closes stale connections.',
  },
  {
    env: 'CODECAST_STALE_SECONDS',
    default: '120',
    type: int(1, 86_400),
    description: 'A connection with no pong (or, on SSE, with written bytes not drained) for this long is stale.',
  },
  {
    env: 'CODECAST_PONG_INTERVAL_SECONDS',
    default: '10',
    type: int(0, 3600),
    description: 'Least time between two HTTP pongs of one SSE connection; a faster pong gets 429.',
  },
  {
    env: 'CODECAST_HISTORY',
    default: '100',
    type: int(1, 100_000),
    description: 'Codes held in memory for replay on reconnect.',
  },
  {
    env: 'CODECAST_DEDUP_SECONDS',
    default: '2',
    type: int(0, 86_400),
    description: 'Window in which publishing the same code again answers 409 (0 turns it off).',
  },
  {
    env: 'CODECAST_IDEMPOTENCY_HOURS',
    default: '24',
    type: int(24, 24 * 365),
    description: 'How long an Idempotency-Key is remembered (at least 24).',
  },
  {
    env: 'CODECAST_RETENTION_DAYS',
    default: '30',
    type: int(0, 36_500),
    description:
      'Days a code is kept in the database with its delivery figures and acks; older codes are deleted every hour, in small batches, except the newest `CODECAST_HISTORY`, which replay needs. 0 keeps every code for ever. Otherwise at least `CODECAST_IDEMPOTENCY_HOURS` / 24, so a retried publish still finds its code.',
  },
  {
    env: 'CODECAST_AUDIT_RETENTION_DAYS',
    default: '365',
    type: int(0, 36_500),
    description: 'Days an audit trail entry is kept; older entries are deleted every hour, in small batches. 0 keeps the trail for ever.',
  },
  {
    env: 'CODECAST_BODY_LIMIT_BYTES',
    default: '16384',
    type: int(1024, 10 * 1024 * 1024),
    description: 'Largest request body accepted; a larger one gets 413.',
  },
  {
    env: 'CODECAST_REQUEST_TIMEOUT_SECONDS',
    default: '30',
    type: int(1, 3600),
    description:
      'An HTTP request whose headers and body have not all arrived within this is answered `408 request_timeout` and its connection closed (checked every second). Streams are not affected: their request is complete when the stream starts.',
  },
  {
    env: 'CODECAST_MAX_INBOUND_FRAME_BYTES',
    default: '4096',
    type: int(64, 1024 * 1024),
    description: 'Largest WebSocket or Socket.IO message a client may send; a larger one closes the connection (1009).',
  },
  {
    env: 'CODECAST_INBOUND_RATE',
    default: '200',
    type: int(1, 1_000_000),
    description:
      "Messages per second one connection may send on average (acks, pings, pongs, any frame or packet); one user's HTTP acks share the budget of `CODECAST_MAX_CONNECTIONS_PER_USER` connections. Past the budget a connection is closed (`4429 too_many_messages`) and an HTTP ack gets 429.",
  },
  {
    env: 'CODECAST_INBOUND_BURST',
    default: '1000',
    type: int(1, 10_000_000),
    description:
      'Messages one connection may send at once on top of the rate; keep it above `CODECAST_HISTORY` so a client acking a whole replay stays inside.',
  },
  {
    env: 'CODECAST_FLOOD_COOLOFF_SECONDS',
    default: '10',
    type: int(0, 86_400),
    description:
      'After a connection is cut for sending too many messages, how long its user may open no new one (429 too_many_messages); 0 turns it off.',
  },
  {
    env: 'CODECAST_SSE_RETRY_MS',
    default: '3000',
    type: int(0, 3_600_000),
    description: 'Reconnect delay suggested to EventSource clients by the `retry:` line.',
  },
  {
    env: 'CODECAST_SHUTDOWN_RECONNECT_MS',
    default: '2000',
    type: int(0, 3_600_000),
    description: 'Reconnect delay announced in the `shutdown` event before a graceful stop.',
  },
  {
    env: 'CODECAST_AUTH_FAILURES_PER_MINUTE',
    default: '60',
    type: int(1, 1_000_000),
    description: 'Unknown-token attempts one client address may make per minute before it gets 429 without a database lookup.',
  },
  {
    env: 'CODECAST_TRUSTED_PROXIES',
    default: undefined,
    type: { kind: 'address-list' },
    description:
      'Reverse proxies whose `X-Forwarded-For` is believed: a comma-separated list of addresses and CIDRs (`10.0.0.5, 192.168.0.0/16, ::1`), or `loopback`, `uniquelocal`, `linklocal`. A request from one of them is charged to the client it names (the per-address auth-failure budget, Socket.IO sessions in the pending budget, the request log), and its TCP connections count only toward the overall pending budget. Unset: off, every header ignored and each peer is the client.',
  },
  {
    env: 'CODECAST_ALLOWED_ORIGINS',
    default: undefined,
    type: { kind: 'origin-list' },
    description:
      "Origins of pages on other sites that may use codecast: a comma-separated list of `scheme://host[:port]` (`https://shop.example.com, http://localhost:3000`), or `*` for every origin. The HTTP API and the SSE stream answer them with CORS headers (preflight included), Socket.IO takes the same list, a WebSocket or Socket.IO connection whose `Origin` is neither on it nor the server's own is refused (403 origin_not_allowed), and their pages may frame the embed, `/embed` (its `frame-ancestors`). Unset: same origin only, no CORS headers, the WebSocket does not look at `Origin`, and only codecast's own pages may frame the embed.",
  },
  {
    env: 'CODECAST_MAX_PENDING_CONNECTIONS',
    default: '5000',
    type: int(1, 1_000_000),
    description:
      'Connections not yet authenticated (TCP connections, Socket.IO sessions without a namespace) held at once; past it a new one gets 503 server_busy.',
  },
  {
    env: 'CODECAST_MAX_PENDING_PER_ADDRESS',
    default: '500',
    type: int(1, 1_000_000),
    description:
      'The same, from one client address; past it a new one gets 429 too_many_pending_connections. Behind a proxy every client has its address: name the proxy in `CODECAST_TRUSTED_PROXIES` (its connections then count only overall), or raise this to the overall figure.',
  },
  {
    env: 'CODECAST_AUTH_TIMEOUT_SECONDS',
    default: '10',
    type: int(1, 3600),
    description:
      'A connection that has not sent a complete request, or a Socket.IO session that has not joined a namespace, within this is closed.',
  },
  {
    env: 'USER_CACHE_MAX_ENTRIES',
    default: '2000',
    type: int(1, 10_000_000),
    description: 'Authenticated tokens kept in the user cache (and, apart, verified JWTs remembered until they expire).',
  },
  {
    env: 'USER_CACHE_TTL_SECONDS',
    default: '180',
    type: int(1, 86_400),
    description: 'Age until a cached user is revalidated (served meanwhile: stale-while-revalidate).',
  },
  {
    env: 'USER_CACHE_REFRESH_SECONDS',
    default: '300',
    type: int(1, 86_400),
    description:
      'Age past which a cached user is no longer served while revalidating; the request waits for the database (or, if it is down, keeps the cached user).',
  },
  {
    env: 'USER_NEGATIVE_CACHE_MAX_ENTRIES',
    default: '10000',
    type: int(1, 10_000_000),
    description: 'Unknown tokens remembered so that repeating one does not reach the database.',
  },
  {
    env: 'USER_NEGATIVE_CACHE_TTL_SECONDS',
    default: '60',
    type: int(1, 86_400),
    description: 'How long an unknown token is remembered as unknown.',
  },
  {
    env: 'CODECAST_AUTH_POLL_MS',
    default: '1000',
    type: int(50, 600_000),
    description:
      'How often a process looks for user and token changes made elsewhere (the CLI, another process) to close affected connections.',
  },
  {
    env: 'CODECAST_JWT_SECRET',
    default: undefined,
    type: { kind: 'secret', minBytes: 32 },
    description:
      'HMAC secret (at least 32 bytes, used as its UTF-8 bytes) that verifies JWTs your backend signs with HS256, HS384 or HS512; unset: no HMAC-signed JWT is accepted. A key is refused (PEM, JWK, base64 DER, or the text of `CODECAST_JWT_PUBLIC_KEY`): anyone could sign with a public key. Never logged, never echoed in an error.',
  },
  {
    env: 'CODECAST_JWT_PUBLIC_KEY',
    default: undefined,
    type: { kind: 'public-key' },
    description:
      'Public key that verifies JWTs signed with RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA: PEM text (a public key or a certificate; `\\n` may stand for newlines), `@/path/to/key.pem`, or a public JWK as JSON. A private key is refused. Unset: no public-key JWT is accepted.',
  },
  {
    env: 'CODECAST_JWT_ALGORITHMS',
    default: undefined,
    type: { kind: 'enum-list', values: JWT_ALGORITHMS },
    description:
      'Comma-separated JWT algorithms accepted (`HS256`, `RS256`, `PS256`, `ES256`, `EdDSA`…, each verifiable by a configured key). Unset: every one the configured keys can verify. `none` is never accepted.',
  },
  {
    env: 'CODECAST_JWT_AUDIENCE',
    default: undefined,
    type: { kind: 'list' },
    description:
      "When set, a JWT's `aud` must name one of these comma-separated values; unset, `aud` is not checked and the start logs a warning: set it whenever a JWT key is set, or any JWT signed with that key, whatever for, is a codecast token.",
  },
  {
    env: 'CODECAST_JWT_ISSUER',
    default: undefined,
    type: { kind: 'list' },
    description: "When set, a JWT's `iss` must be one of these comma-separated values; unset, `iss` is not checked.",
  },
  {
    env: 'CODECAST_JWT_CLOCK_SKEW_SECONDS',
    default: '30',
    type: int(0, 300),
    description: "Leeway for clocks that disagree between your backend and codecast, when checking a JWT's `exp` and `nbf` (at most 300).",
  },
  {
    env: 'CODECAST_JWT_MAX_LIFETIME_SECONDS',
    default: '86400',
    type: int(0, 31_536_000),
    description:
      'A JWT whose `exp` lies further ahead than this is refused, so that a connection token that leaks is not good for long; 0: no limit.',
  },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof settingsTable)[number]['env'];
