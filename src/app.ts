import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createBroker, type Broker, type BrokerMessage, type MemoryBus } from './broker/index.js';
import { BrokerReceiver } from './broker-receiver.js';
import { Cluster, describeDeployment, reportOf, type DeploymentStats, type UserSlots } from './cluster/index.js';
import { describeDatabase, redactDatabaseUrl, type Config } from './config/index.js';
import {
  AllowedOrigins,
  PendingBudget,
  SocketGuard,
  TransportMounts,
  TrustedProxies,
  streamAdmission,
  type Transport,
  type TransportParts,
} from './edge/index.js';
import { buildHttpServer, readServerStats, type ServerStats } from './http/index.js';
import { Acknowledger, DeliveryLedger, HistoryRing, Hub, InboundBudget, Publisher, RuntimeSettings, type PublishLog } from './hub/index.js';
import { createLogger } from './logging.js';
import type { PeriodicTasks } from './periodic-tasks.js';
import { startUpkeep } from './upkeep.js';
import { retentionPolicy } from './retention.js';
import { Metrics } from './metrics/index.js';
import { publicCode } from './domain/index.js';
import { databaseWaitMs, publishConcurrency, SqliteOwnerLock, Store } from './store/index.js';
import { SocketIoTransport } from './transports/socketio/index.js';
import { SseTransport } from './transports/sse/index.js';
import { WsTransport } from './transports/ws/index.js';
import {
  AuthWatcher,
  Authenticator,
  JwtUsers,
  JwtVerifier,
  UserAdmin,
  UserCache,
  ensureFirstAdmin,
  type AccessEnforcer,
  type BootstrapResult,
} from './users/index.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const STOP_GRACE_MS = 5_000;

export interface StartOptions {
  readonly logger?: Logger;
  /** Joins nodes living in one process (tests of several nodes). */
  readonly bus?: MemoryBus;
  /**
   * Whether a first admin's made-up token can be shown to a person (the
   * CLI's standard output is a terminal). When not, and CODECAST_ADMIN_TOKEN
   * is unset, the first admin is created without a token. Default true.
   */
  readonly canShowToken?: boolean;
}

/** A host a local client can reach the server on. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** A started codecast: its address, its parts for inspection, and `stop`. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly node: string;
  readonly bootstrap: BootstrapResult | undefined;
  readonly store: Store;
  readonly hub: Hub;
  readonly logger: Logger;
  stats(): ServerStats;
  /** Every live node of the deployment (this one alone without Redis), as `/api/v1/stats` shows under `deployment`. */
  deployment(): Promise<DeploymentStats>;
  /** Graceful stop: refuse new work, say `shutdown` to every stream, close the store. */
  stop(): Promise<void>;
}

/**
 * The composition root: builds every part from config, wires them together
 * and owns start and stop. Nothing else constructs concrete parts.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const node = randomUUID();
  const startedAt = Date.now();
  // The metrics read hub, cache and ack figures lazily, at scrape time; the
  // parts they read are built below, after the metrics they report to.
  const parts: { hub?: Hub; cache?: UserCache; acknowledger?: Acknowledger; broker?: Broker; jwt?: JwtVerifier } = {};
  const metrics = new Metrics({
    hub: () => (parts.hub as Hub).stats(),
    userCache: () => (parts.cache as UserCache).stats(),
    acks: () => (parts.acknowledger as Acknowledger).stats(),
    brokerUp: () => parts.broker?.health().ok ?? false,
    jwt: () => parts.jwt?.stats(),
  });
  // Set once the publisher exists: writes working again after they failed
  // may leave a code stored whose commit answer was lost, never sent.
  let writesResumed = (): void => undefined;
  // One SQLite file, one server; nodes joined by a bus in one process (tests) share it on purpose.
  const { database } = config;
  const owner =
    database.driver === 'sqlite' && database.path !== ':memory:' && options.bus === undefined
      ? SqliteOwnerLock.take(database.path)
      : undefined;
  const store = await Store.open(config.database, {
    queried: (ms) => metrics.queried(ms),
    writesFailed: (detail) =>
      logger.error(
        { detail, database: describeDatabase(config.database) },
        'the database cannot take writes (unreachable, disk full, read-only or I/O error): writes answer 503 and ' +
          '/readyz fails until it can; bring the server back, free space or repair the file system, and writes ' +
          'resume by themselves',
      ),
    writesResumed: () => {
      logger.info('the database takes writes again');
      writesResumed();
    },
    fileGone: (detail) =>
      logger.error(
        { database: describeDatabase(config.database) },
        `${detail}; anything written now would be lost, so writes answer 503 and /readyz fails. ` +
          'Move the file back to its path, or restore a backup there and restart the server ' +
          '(a restart on an empty path starts an empty database)',
      ),
    fileBack: () => logger.info({ database: describeDatabase(config.database) }, 'the database file is back at its path: writes resume'),
    waitingForLock: () =>
      logger.warn(
        { database: describeDatabase(config.database) },
        'another codecast process is migrating the database or creating the first admin: waiting for it (up to 120 s)',
      ),
  }).catch((error: unknown) => {
    owner?.release();
    throw error;
  });
  let upkeep: PeriodicTasks | undefined;
  let cluster: Cluster | undefined;
  // Set once made: a start that fails later lets go of their Redis connections and timers.
  let brokerMade: Broker | undefined;
  let receiverMade: BrokerReceiver | undefined;
  // Set once the cluster has joined: the hub reports to it from the start.
  let slots: UserSlots | undefined;
  let http: FastifyInstance | undefined;
  let stopping = false;

  try {
    // Made first, started once every part it feeds exists: the parts that
    // change what other nodes hold tell them through it.
    const redisShown = config.broker.driver === 'redis' ? redactDatabaseUrl(config.broker.url) : undefined;
    const broker: Broker = createBroker(config.broker, {
      node,
      bus: options.bus,
      events: {
        down: (detail) =>
          logger.error(
            { redis: redisShown, detail },
            'Redis is not reachable: publishes and revokes answer 503 and /readyz fails until it is; streams stay open, ' +
              'and every node catches up from the database when Redis is back',
          ),
        up: () => logger.info({ redis: redisShown }, 'Redis is reachable again'),
        resync: (reason) => logger.info({ reason }, 'catching up from the database: messages may have been lost'),
        failed: (err, what) => logger.warn({ err }, `${what} failed; retrying`),
      },
    });
    parts.broker = broker;
    brokerMade = broker;
    const tellOthers = (message: BrokerMessage) =>
      broker.publish(message).catch((err: unknown) => logger.warn({ err, type: message.type }, 'telling other nodes failed'));

    const settings = new RuntimeSettings(store.settings, () => void tellOthers({ type: 'settings', node }));
    await settings.load();

    const recent = await store.codes.newest(config.historySize);
    const history = new HistoryRing(
      config.historySize,
      recent.codes.map((record) => ({ code: publicCode(record), revoked: record.revokedAt !== null })),
      recent.floor,
    );
    const deliveries = new DeliveryLedger(store.codes);
    const hub = new Hub(
      {
        maxConnections: config.maxConnections,
        maxConnectionsPerUser: config.maxConnectionsPerUser,
        connectionQueue: config.connectionQueue,
        heartbeatMs: config.heartbeatMs,
        staleMs: config.staleMs,
        floodCooloffMs: config.floodCooloffMs,
      },
      history,
      {
        opened: (transport, userId) => {
          metrics.opened(transport);
          slots?.attached(userId);
        },
        closed: (connection, reason, openMs) => {
          metrics.closed(connection, reason);
          slots?.released(connection.userId);
          logger.info(
            { connectionId: connection.id, transport: connection.transport, userId: connection.userId, reason, openMs },
            'connection closed',
          );
        },
        delivered: (transport, count, kind) => metrics.delivered(transport, count, kind),
        fannedOut: (ms) => metrics.fannedOut(ms),
      },
      deliveries,
    );
    parts.hub = hub;

    // Without an audience, a JWT the backend signed for anything else (its
    // own sessions, another service) with the same key is a codecast token.
    if (config.jwt && config.jwt.audience === undefined) {
      logger.warn(
        'CODECAST_JWT_AUDIENCE is unset: any JWT signed with the configured key, whatever it was minted for, is ' +
          'accepted as a codecast token; set CODECAST_JWT_AUDIENCE (e.g. codecast) and have your backend put it in aud',
      );
    }
    // With a JWT key, the cache also answers for JWT subjects, making each user on its first connection.
    const jwtUsers = config.jwt ? new JwtUsers(store) : undefined;
    const cache = new UserCache(
      config.userCache,
      (hash) => store.users.principalByTokenHash(hash),
      jwtUsers ? (username) => jwtUsers.principalOf(username) : undefined,
    );
    parts.cache = cache;
    const jwtVerifier = config.jwt ? new JwtVerifier(config.jwt, config.userCache.maxEntries) : undefined;
    parts.jwt = jwtVerifier;
    const authenticator = new Authenticator(cache, config.authFailuresPerMinute, jwtVerifier);
    // Access withdrawn here closes connections here and tells the other
    // nodes; withdrawn elsewhere (heard by the watcher), only here.
    const enforcer: AccessEnforcer = {
      closeUser: (userId) => hub.closeUser(userId, 'user_disabled'),
      closeToken: (userId, tokenId) => hub.closeToken(userId, tokenId, 'token_revoked'),
    };
    const enforcerTellingOthers: AccessEnforcer = {
      closeUser: (userId) => {
        enforcer.closeUser(userId);
        void tellOthers({ type: 'access', node, userId, tokenId: null });
      },
      closeToken: (userId, tokenId) => {
        enforcer.closeToken(userId, tokenId);
        void tellOthers({ type: 'access', node, userId, tokenId });
      },
    };
    const users = new UserAdmin(store, cache, enforcerTellingOthers);
    const watcher = new AuthWatcher(store, cache, enforcer, (err) => logger.warn({ err }, 'auth watch failed'));

    const acknowledger = new Acknowledger(store.codes, history, {
      onFirstAck: (latencyMs) => metrics.acked(latencyMs),
      onFlushFailed: (err, count, kept) =>
        logger.error({ err, count, kept }, kept ? 'storing acks failed; kept for the next flush' : 'storing acks failed; dropped'),
    });
    parts.acknowledger = acknowledger;
    hub.onRevoke((id) => acknowledger.revoked(id));

    const receiver = new BrokerReceiver({
      hub,
      history,
      deliveries,
      codes: store.codes,
      settings,
      access: watcher,
      failed: (err, what) => logger.warn({ err }, `${what} failed`),
      caughtUp: () => metrics.caughtUp(),
    });
    receiverMade = receiver;
    if (config.broker.driver === 'redis') hub.catchUpWith((id) => receiver.catchUpTo(id));
    await broker.start(receiver).catch((error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot reach Redis at ${redisShown}: ${why}`, { cause: error });
    });

    if (config.broker.driver === 'redis') {
      cluster = await Cluster.join(
        {
          url: config.broker.url,
          prefix: config.broker.prefix,
          node,
          ttlMs: config.broker.nodeTtlMs,
          maxPerUser: config.maxConnectionsPerUser,
        },
        () => reportOf(node, startedAt, hub.stats()),
        {
          degraded: (detail) =>
            logger.warn(
              { redis: redisShown, detail },
              "Redis cannot be asked: the per-user connection cap counts this node's connections only until it can",
            ),
          recovered: () => logger.info('the per-user connection cap counts every node of the deployment again'),
          lapsed: () => logger.warn("this node's lease had lapsed (Redis restarted, or this node was cut off): renewed with its counts"),
          failed: (err, what) => logger.warn({ err }, `${what} failed; retrying`),
        },
      );
      slots = cluster.slots;
    }
    const joined = cluster;
    const deployment = (): Promise<DeploymentStats> => {
      if (joined) return joined.deployment();
      const own = hub.stats();
      return Promise.resolve(describeDeployment('memory', [reportOf(node, startedAt, own)], own.usersOnline, true));
    };

    const publishLog: PublishLog = {
      published: (result, fanOutMs) =>
        logger.info(
          { id: result.code.id, code: result.code.code, audience: result.audience.connections, fanOutMs: Number(fanOutMs.toFixed(3)) },
          'code published',
        ),
      bookkeepingFailed: (codeId, err) => logger.error({ err, id: codeId }, 'recording a publish failed'),
      brokerFailed: (message, err) =>
        logger.warn(
          { err, type: message.type },
          'handing a stored publish or revoke to the broker failed; it is delivered from the database',
        ),
    };
    const publisher = new Publisher(
      {
        node,
        dedupMs: config.dedupMs,
        idempotencyMs: config.idempotencyMs,
        // A publish queued longer than the database may take to let one
        // statement in is behind one the database is not serving: refused
        // at once, it can be retried; left queued, it would wait out every
        // publish ahead of it, each bounded only by its own timeouts.
        queueDeadlineMs: databaseWaitMs(config.database),
        concurrency: publishConcurrency(config.database),
      },
      store.codes,
      hub,
      deliveries,
      broker,
      settings,
      publishLog,
      () => receiver.catchUp(),
      joined ? () => joined.elsewhere() : undefined,
    );
    writesResumed = () => {
      publisher.catchUp().catch((err: unknown) => logger.warn({ err }, 'catching up from the database after an outage failed'));
    };

    // One budget for every connection of every transport. HTTP acks are what
    // a user's SSE connections send, but carry no connection: they share one
    // budget per user, as large as the user's connections would have together.
    const inboundBudget = new InboundBudget(config.inbound.ratePerSecond, config.inbound.burst);
    const httpAckBudget = new InboundBudget(
      config.inbound.ratePerSecond * config.maxConnectionsPerUser,
      config.inbound.burst * config.maxConnectionsPerUser,
    );

    const pending = new PendingBudget(config.pending);
    const proxies = new TrustedProxies(config.trustedProxies);
    const origins = new AllowedOrigins(config.allowedOrigins);
    const stats = () =>
      readServerStats({
        node,
        startedAt,
        hub: () => hub.stats(),
        pending: () => pending.stats(),
        userCache: () => cache.stats(),
        jwt: () => jwtVerifier?.stats() ?? null,
        acks: () => acknowledger.stats(),
        queries: () => store.queryCount,
      });

    // Made once the HTTP server exists; sockets authenticate only after it listens.
    let guard: SocketGuard | undefined;
    const authenticated = (socket: Duplex | undefined) => guard?.adopt(socket);

    http = await buildHttpServer({
      logger,
      version: VERSION,
      bodyLimitBytes: config.bodyLimitBytes,
      requestTimeoutMs: config.requestTimeoutMs,
      authenticator,
      publisher,
      acknowledger,
      httpAckBudget,
      settings,
      users,
      codes: store.codes,
      audit: store.audit,
      health: () => store.health(),
      broker: config.broker.driver === 'redis' ? () => broker.health() : undefined,
      stats: async () => ({ ...stats(), deployment: await deployment() }),
      metrics,
      metricsToken: config.metricsToken,
      stopping: () => stopping,
      authenticated,
      pending: (socket) => guard?.counts(socket as Socket) ?? false,
      proxies,
      origins,
    });
    guard = new SocketGuard(http.server, pending, {
      authTimeoutMs: config.pending.authTimeoutMs,
      proxies,
      refusalHeaders: origins.unknownOriginHeaders,
    });
    const socketGuard = guard;

    // Every transport is built from the same parts and mounted the same way.
    const transportParts: TransportParts = {
      hub,
      authenticator,
      admission: streamAdmission(authenticator, hub, joined?.slots),
      acknowledger,
      inboundBudget,
      authenticated,
      clientOf: (request) => proxies.clientOf(request),
      origins,
    };
    const transports: readonly Transport[] = [
      new SseTransport(transportParts, { retryMs: config.sseRetryMs, pongIntervalMs: config.pongIntervalMs }),
      new WsTransport(transportParts, { maxInboundBytes: config.maxInboundFrameBytes }),
      new SocketIoTransport(transportParts, {
        heartbeatMs: config.heartbeatMs,
        maxInboundBytes: config.maxInboundFrameBytes,
        pending,
        authTimeoutMs: config.pending.authTimeoutMs,
      }),
    ];
    const mounts = new TransportMounts(http);
    for (const transport of transports) await transport.mount(mounts);
    mounts.routeUpgrades();
    const closeTransports = () => {
      for (const transport of transports) transport.close();
    };
    // Node's default backlog (511) made connection set-up of others wait
    // behind an attacker's SYNs for seconds while the loop was busy (issue 9).
    await http.listen({ port: config.port, host: config.host, backlog: config.listenBacklog });
    const port = (http.server.address() as AddressInfo).port;
    // Only once listening: a start that fails (a port in use) leaves no admin
    // whose token was never shown.
    const bootstrap = await ensureFirstAdmin(
      store,
      users,
      config.adminToken !== undefined
        ? { from: 'environment', token: config.adminToken }
        : options.canShowToken === false
          ? { from: 'none' }
          : { from: 'generated' },
    );

    upkeep = startUpkeep({
      hub,
      deliveries,
      acknowledger,
      checkMissed: config.broker.driver === 'redis' ? (ageMs) => receiver.checkMissed(ageMs) : undefined,
      retention: store.retention,
      policy: retentionPolicy(config),
      pruned: (pruned) => logger.info({ pruned }, 'deleted rows past their retention'),
      heartbeatMs: config.heartbeatMs,
      sweepMs: config.sweepMs,
      swept: (closed) => logger.info({ closed }, 'closed stale connections'),
      failed: (err) => logger.warn({ err }, 'periodic task failed'),
    });
    await watcher.start(config.authPollMs);

    const app = http;
    let stopped: Promise<void> | undefined;
    const stop = async () => {
      stopping = true;
      // The others stop counting this node's connections at once.
      const leaving = joined?.leave();
      upkeep?.stop();
      watcher.stop();
      const closing = app.close();
      hub.shutdown(config.shutdownReconnectMs);
      socketGuard.destroyUnused();
      socketGuard.close();
      // Farewells are on their way; whatever has not closed after the grace
      // period is cut. engine.io is closed only then: closing it earlier
      // would discard the farewells still queued for its clients.
      const grace = setTimeout(() => {
        app.server.closeAllConnections();
        closeTransports();
      }, STOP_GRACE_MS);
      await closing;
      clearTimeout(grace);
      closeTransports();
      await deliveries.flush().catch((err: unknown) => logger.warn({ err }, 'flushing delivery counts failed'));
      await acknowledger.flush();
      receiver.stop();
      await leaving;
      joined?.close();
      await broker.stop();
      await store.close();
      owner?.release();
    };
    return {
      url: `http://${reachableHost(config.host)}:${port}`,
      port,
      node,
      bootstrap,
      store,
      hub,
      logger,
      stats,
      deployment,
      stop: () => (stopped ??= stop()),
    };
  } catch (error) {
    upkeep?.stop();
    cluster?.close();
    receiverMade?.stop();
    await brokerMade?.stop().catch(() => undefined);
    await http?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    owner?.release();
    throw error;
  }
}
