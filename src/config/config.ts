import type { KeyObject } from 'node:crypto';
import { settingsTable, type SettingKind, type SettingName } from './settings-table.js';

import { DATABASE_URL_FORMS, parseDatabaseUrl, redactDatabaseUrl, type DatabaseTarget, type ParsedDatabaseUrl } from './database-url.js';
import { parseRedisUrl, REDIS_URL_FORMS } from './redis-url.js';
import { ADDRESS_LIST_FORMS, parseAddressList } from './address-list.js';
import { ORIGIN_LIST_FORMS, parseOriginList } from './origin-list.js';
import { PUBLIC_KEY_FORMS, parsePublicKey } from './jwt-keys.js';
import { jwtConfig, type JwtConfig } from './jwt-settings.js';

export type { DatabaseTarget, JwtConfig };

/** The settings jwtConfig() reads together. */
const JWT_SETTINGS = settingsTable.map((spec) => spec.env).filter((name) => name.startsWith('CODECAST_JWT_'));

/** How this process shares codes with others: alone, or as a node of a cluster on Redis. */
export type BrokerTarget =
  | { readonly driver: 'memory' }
  | {
      readonly driver: 'redis';
      /** The URL as given (the password stays in it; log it only through `redactDatabaseUrl`, which hides any URL's password). */
      readonly url: string;
      /** Prefix of every key, so deployments can share one Redis. */
      readonly prefix: string;
      /** How long a node's lease lasts without a heartbeat. */
      readonly nodeTtlMs: number;
    };

/** Everything codecast is configured with, validated and frozen at start. */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** The listen backlog asked of the kernel (which caps it at net.core.somaxconn). */
  readonly listenBacklog: number;
  readonly database: DatabaseTarget;
  readonly broker: BrokerTarget;
  readonly logLevel: string;
  readonly adminToken: string | undefined;
  readonly publicUrl: string | undefined;
  readonly metricsToken: string | undefined;
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
  readonly connectionQueue: number;
  readonly heartbeatMs: number;
  readonly sweepMs: number;
  readonly staleMs: number;
  readonly pongIntervalMs: number;
  readonly historySize: number;
  readonly dedupMs: number;
  readonly idempotencyMs: number;
  /** How long rows are kept; null: for ever. Auth events keep their day, idempotency keys `idempotencyMs`. */
  readonly retention: {
    /** Codes with their delivery figures and acks; the newest `historySize` codes are kept whatever their age. */
    readonly codesMs: number | null;
    readonly auditMs: number | null;
  };
  readonly bodyLimitBytes: number;
  /** How long a request's headers and body may take to arrive. */
  readonly requestTimeoutMs: number;
  readonly maxInboundFrameBytes: number;
  /** Each connection's inbound budget, and each user's for HTTP acks. */
  readonly inbound: { readonly ratePerSecond: number; readonly burst: number };
  /** How long a user whose connection was cut for flooding may open no other. */
  readonly floodCooloffMs: number;
  readonly sseRetryMs: number;
  readonly shutdownReconnectMs: number;
  readonly authFailuresPerMinute: number;
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDRs, named ranges); empty: none. */
  readonly trustedProxies: readonly string[];
  /**
   * Origins (normalised `scheme://host[:port]`) whose pages may use the
   * server from another origin, or `['*']` for every origin; empty: same
   * origin only.
   */
  readonly allowedOrigins: readonly string[];
  /** The budget of connections that have not authenticated yet. */
  readonly pending: {
    readonly maxPending: number;
    readonly maxPendingPerAddress: number;
    readonly authTimeoutMs: number;
  };
  readonly userCache: {
    readonly maxEntries: number;
    readonly ttlMs: number;
    readonly refreshMs: number;
    readonly negativeMaxEntries: number;
    readonly negativeTtlMs: number;
  };
  readonly authPollMs: number;
  /** How JWTs from an application's backend are verified; undefined: no JWT is accepted. */
  readonly jwt: JwtConfig | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Raw = string | number | ParsedDatabaseUrl | readonly string[] | KeyObject | undefined;

function describe(type: SettingKind): string {
  switch (type.kind) {
    case 'integer':
      return `an integer from ${type.min} to ${type.max}`;
    case 'enum':
      return `one of ${type.values.join(', ')}`;
    case 'database-url':
      return DATABASE_URL_FORMS;
    case 'redis-url':
      return REDIS_URL_FORMS;
    case 'address-list':
      return ADDRESS_LIST_FORMS;
    case 'origin-list':
      return ORIGIN_LIST_FORMS;
    case 'string':
      return 'a non-empty string';
    case 'optional-string':
      return 'a string';
    case 'token':
      return '16 to 256 visible ASCII characters';
    case 'secret':
      return `a secret of at least ${type.minBytes} bytes`;
    case 'public-key':
      return PUBLIC_KEY_FORMS;
    case 'list':
      return 'a comma-separated list of values';
    case 'enum-list':
      return `a comma-separated list of ${type.values.join(', ')}`;
  }
}

/**
 * A bad value as the error shows it. A secret is never echoed, not even a
 * wrong one: it may be a real token set in the wrong variable, and the
 * message goes to logs. A URL is shown without its password.
 */
function shown(type: SettingKind, text: string): string {
  // A public key is no secret, but the value may be a private key put there by mistake.
  if (type.kind === 'token' || type.kind === 'secret' || type.kind === 'public-key') return ' (its value is not shown)';
  if (type.kind === 'database-url' || type.kind === 'redis-url') return `=${JSON.stringify(redactDatabaseUrl(text))}`;
  return `=${JSON.stringify(text)}`;
}

function parseOne(type: SettingKind, value: string): Raw | Error {
  switch (type.kind) {
    case 'integer': {
      if (!/^-?\d+$/.test(value.trim())) return new Error('not an integer');
      const n = Number(value.trim());
      return n >= type.min && n <= type.max ? n : new Error('out of range');
    }
    case 'enum':
      return type.values.includes(value) ? value : new Error('not allowed');
    case 'database-url':
      return parseDatabaseUrl(value);
    case 'redis-url':
      return parseRedisUrl(value);
    case 'address-list':
      return parseAddressList(value);
    case 'origin-list':
      return parseOriginList(value);
    case 'string':
      return value.trim().length > 0 ? value : new Error('empty');
    case 'optional-string':
      return value.length > 0 ? value : undefined;
    case 'token':
      return /^[\x21-\x7e]{16,256}$/.test(value) ? value : new Error('not a token');
    case 'secret':
      return Buffer.byteLength(value, 'utf8') >= type.minBytes ? value : new Error('too short');
    case 'public-key':
      return parsePublicKey(value);
    case 'list':
      return listOf(value);
    case 'enum-list': {
      const entries = listOf(value);
      if (entries instanceof Error) return entries;
      // Named apart: accepting an unsigned token is the classic JWT hole.
      if (entries.some((entry) => entry.toLowerCase() === 'none')) return new Error('"none" is never accepted: a JWT must be signed');
      const unknown = entries.filter((entry) => !type.values.includes(entry));
      return unknown.length === 0 ? entries : new Error(`unknown: ${unknown.join(', ')}`);
    }
  }
}

/** Comma-separated entries, trimmed; empty ones (a trailing comma) dropped. */
function listOf(value: string): readonly string[] | Error {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return entries.length > 0 ? entries : new Error('empty');
}

/**
 * Reads every setting from `env`, reporting every bad value at once.
 * @throws ConfigError naming each variable, the value given (never for a
 *   secret) and what it accepts.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const values = new Map<SettingName, Raw>();
  const refused = new Set<SettingName>();
  for (const spec of settingsTable) {
    const given = env[spec.env];
    const text = given === undefined || given === '' ? spec.default : given;
    if (text === undefined) {
      values.set(spec.env, undefined);
      continue;
    }
    const parsed = parseOne(spec.type, text);
    if (parsed instanceof Error) {
      // A URL's reason helps (an unencoded "/" in the password, no host), and
      // so does the wrong entry of a list; elsewhere "expected" says it all.
      const explained = (['database-url', 'redis-url', 'address-list', 'origin-list', 'public-key', 'enum-list'] as const).some(
        (kind) => spec.type.kind === kind,
      );
      const reason = explained ? ` (${parsed.message})` : '';
      problems.push(`${spec.env}${shown(spec.type, text)} is not valid${reason}: expected ${describe(spec.type)}`);
      refused.add(spec.env);
    } else {
      values.set(spec.env, parsed);
    }
  }
  const num = (name: SettingName) => values.get(name) as number;
  // Each check of settings together runs once the settings it reads were
  // read, whatever else is wrong: every problem is reported at once.
  const read = (...names: SettingName[]) => names.every((name) => !refused.has(name));
  let jwt: JwtConfig | undefined;
  if (read(...JWT_SETTINGS)) {
    jwt = jwtConfig(
      {
        secret: values.get('CODECAST_JWT_SECRET') as string | undefined,
        publicKey: values.get('CODECAST_JWT_PUBLIC_KEY') as KeyObject | undefined,
        publicKeyText: env.CODECAST_JWT_PUBLIC_KEY || undefined,
        algorithms: values.get('CODECAST_JWT_ALGORITHMS') as readonly string[] | undefined,
        audience: values.get('CODECAST_JWT_AUDIENCE') as readonly string[] | undefined,
        issuer: values.get('CODECAST_JWT_ISSUER') as readonly string[] | undefined,
        clockSkewSeconds: num('CODECAST_JWT_CLOCK_SKEW_SECONDS'),
        maxLifetimeSeconds: num('CODECAST_JWT_MAX_LIFETIME_SECONDS'),
      },
      problems,
    );
  }
  if (read('USER_CACHE_REFRESH_SECONDS', 'USER_CACHE_TTL_SECONDS') && num('USER_CACHE_REFRESH_SECONDS') < num('USER_CACHE_TTL_SECONDS')) {
    problems.push('USER_CACHE_REFRESH_SECONDS must be at least USER_CACHE_TTL_SECONDS');
  }
  // A client pings or pongs once per heartbeat at best: a stale timeout not
  // longer than that would close healthy clients.
  if (read('CODECAST_STALE_SECONDS', 'CODECAST_HEARTBEAT_SECONDS') && num('CODECAST_STALE_SECONDS') <= num('CODECAST_HEARTBEAT_SECONDS')) {
    problems.push('CODECAST_STALE_SECONDS must be longer than CODECAST_HEARTBEAT_SECONDS');
  }
  if (
    read('CODECAST_MAX_PENDING_PER_ADDRESS', 'CODECAST_MAX_PENDING_CONNECTIONS') &&
    num('CODECAST_MAX_PENDING_PER_ADDRESS') > num('CODECAST_MAX_PENDING_CONNECTIONS')
  ) {
    problems.push('CODECAST_MAX_PENDING_PER_ADDRESS must not be more than CODECAST_MAX_PENDING_CONNECTIONS');
  }
  if (
    read('CODECAST_STALE_SECONDS', 'CODECAST_PONG_INTERVAL_SECONDS') &&
    num('CODECAST_STALE_SECONDS') <= num('CODECAST_PONG_INTERVAL_SECONDS')
  ) {
    problems.push('CODECAST_STALE_SECONDS must be longer than CODECAST_PONG_INTERVAL_SECONDS');
  }
  // An idempotency key points at its code: a retried publish must find
  // the code it answers with, so codes outlive the keys.
  const retentionDays = num('CODECAST_RETENTION_DAYS');
  if (
    read('CODECAST_RETENTION_DAYS', 'CODECAST_IDEMPOTENCY_HOURS') &&
    retentionDays > 0 &&
    retentionDays * 24 < num('CODECAST_IDEMPOTENCY_HOURS')
  ) {
    problems.push('CODECAST_RETENTION_DAYS (when not 0) must cover CODECAST_IDEMPOTENCY_HOURS: at least its hours / 24');
  }
  // Nodes on SQLite files would each keep their own record: a cluster's ids,
  // history and dedup window live in one PostgreSQL database.
  const store = values.get('DATABASE_URL') as ParsedDatabaseUrl | undefined;
  if (values.get('REDIS_URL') !== undefined && store?.driver === 'sqlite') {
    problems.push(
      'REDIS_URL is set with an SQLite DATABASE_URL: the nodes of a cluster share one PostgreSQL database; ' +
        'set DATABASE_URL=postgres://…, or unset REDIS_URL to run one process',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const seconds = (name: SettingName) => num(name) * 1000;
  const days = (name: SettingName) => (num(name) === 0 ? null : num(name) * 86_400_000);
  const redisUrl = values.get('REDIS_URL') as string | undefined;
  const broker: BrokerTarget = Object.freeze(
    redisUrl === undefined
      ? { driver: 'memory' }
      : {
          driver: 'redis',
          url: redisUrl,
          prefix: values.get('CODECAST_REDIS_PREFIX') as string,
          nodeTtlMs: seconds('CODECAST_NODE_TTL_SECONDS'),
        },
  );
  const parsedStore = store as ParsedDatabaseUrl;
  const database: DatabaseTarget = Object.freeze(
    parsedStore.driver === 'sqlite'
      ? parsedStore
      : {
          ...parsedStore,
          poolMax: num('CODECAST_DB_POOL_MAX'),
          connectTimeoutMs: seconds('CODECAST_DB_CONNECT_TIMEOUT_SECONDS'),
          statementTimeoutMs: seconds('CODECAST_DB_STATEMENT_TIMEOUT_SECONDS'),
        },
  );
  return Object.freeze({
    port: num('PORT'),
    host: values.get('HOST') as string,
    listenBacklog: num('CODECAST_LISTEN_BACKLOG'),
    database,
    broker,
    logLevel: values.get('LOG_LEVEL') as string,
    adminToken: values.get('CODECAST_ADMIN_TOKEN') as string | undefined,
    publicUrl: values.get('CODECAST_PUBLIC_URL') as string | undefined,
    metricsToken: values.get('CODECAST_METRICS_TOKEN') as string | undefined,
    maxConnections: num('CODECAST_MAX_CONNECTIONS'),
    maxConnectionsPerUser: num('CODECAST_MAX_CONNECTIONS_PER_USER'),
    connectionQueue: num('CODECAST_CONNECTION_QUEUE'),
    heartbeatMs: seconds('CODECAST_HEARTBEAT_SECONDS'),
    sweepMs: seconds('CODECAST_SWEEP_SECONDS'),
    staleMs: seconds('CODECAST_STALE_SECONDS'),
    pongIntervalMs: seconds('CODECAST_PONG_INTERVAL_SECONDS'),
    historySize: num('CODECAST_HISTORY'),
    dedupMs: seconds('CODECAST_DEDUP_SECONDS'),
    idempotencyMs: num('CODECAST_IDEMPOTENCY_HOURS') * 3_600_000,
    retention: Object.freeze({ codesMs: days('CODECAST_RETENTION_DAYS'), auditMs: days('CODECAST_AUDIT_RETENTION_DAYS') }),
    bodyLimitBytes: num('CODECAST_BODY_LIMIT_BYTES'),
    requestTimeoutMs: seconds('CODECAST_REQUEST_TIMEOUT_SECONDS'),
    maxInboundFrameBytes: num('CODECAST_MAX_INBOUND_FRAME_BYTES'),
    inbound: Object.freeze({ ratePerSecond: num('CODECAST_INBOUND_RATE'), burst: num('CODECAST_INBOUND_BURST') }),
    floodCooloffMs: seconds('CODECAST_FLOOD_COOLOFF_SECONDS'),
    sseRetryMs: num('CODECAST_SSE_RETRY_MS'),
    shutdownReconnectMs: num('CODECAST_SHUTDOWN_RECONNECT_MS'),
    authFailuresPerMinute: num('CODECAST_AUTH_FAILURES_PER_MINUTE'),
    trustedProxies: Object.freeze([...((values.get('CODECAST_TRUSTED_PROXIES') as readonly string[] | undefined) ?? [])]),
    allowedOrigins: Object.freeze([...((values.get('CODECAST_ALLOWED_ORIGINS') as readonly string[] | undefined) ?? [])]),
    pending: Object.freeze({
      maxPending: num('CODECAST_MAX_PENDING_CONNECTIONS'),
      maxPendingPerAddress: num('CODECAST_MAX_PENDING_PER_ADDRESS'),
      authTimeoutMs: seconds('CODECAST_AUTH_TIMEOUT_SECONDS'),
    }),
    userCache: Object.freeze({
      maxEntries: num('USER_CACHE_MAX_ENTRIES'),
      ttlMs: seconds('USER_CACHE_TTL_SECONDS'),
      refreshMs: seconds('USER_CACHE_REFRESH_SECONDS'),
      negativeMaxEntries: num('USER_NEGATIVE_CACHE_MAX_ENTRIES'),
      negativeTtlMs: seconds('USER_NEGATIVE_CACHE_TTL_SECONDS'),
    }),
    authPollMs: num('CODECAST_AUTH_POLL_MS'),
    jwt,
  });
}
