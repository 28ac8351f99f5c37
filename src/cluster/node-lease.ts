import type { RedisLink } from '../broker/index.js';
import type { DeliveryCounts } from '../hub/index.js';
import { LEAVE, NODES, REFRESH, type ClusterKeys } from './cluster-scripts.js';
import { describeDeployment, parseReport, type DeploymentStats, type NodeReport } from './node-report.js';
import type { LocalCounts } from './user-slots.js';

export interface NodeLeaseOptions {
  readonly node: string;
  readonly keys: ClusterKeys;
  /** `CODECAST_NODE_TTL_SECONDS`: how long the lease lasts unless renewed. */
  readonly ttlMs: number;
  /** How often it is renewed: several times per TTL, so one late renewal does not lose it. */
  readonly refreshMs: number;
  readonly commandTimeoutMs: number;
}

export interface NodeLeaseEvents {
  /** The lease had lapsed (Redis restarted empty, or the node was cut off past the TTL); renewed with the node's counts. */
  lapsed(): void;
  failed(error: unknown, what: string): void;
}

const zeroCounts = (): DeliveryCounts => ({ sse: 0, ws: 0, socketio: 0 });

/**
 * This node's lease in Redis: its report (connections, memory, heartbeat),
 * renewed every `refreshMs`, expiring `ttlMs` after the last renewal, so a
 * node that dies stops counting within the TTL; removed at once when the
 * node leaves. Each renewal also reads the other live nodes' leases, so the
 * node knows the deployment's audience without asking Redis on a publish.
 */
export class NodeLease {
  readonly #link: RedisLink;
  readonly #options: NodeLeaseOptions;
  readonly #report: () => NodeReport;
  readonly #counts: LocalCounts;
  readonly #events: NodeLeaseEvents;
  #others: readonly NodeReport[] = [];
  #elsewhere: DeliveryCounts = zeroCounts();
  #renewedAt = 0;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #left = false;

  constructor(link: RedisLink, options: NodeLeaseOptions, report: () => NodeReport, counts: LocalCounts, events: NodeLeaseEvents) {
    this.#link = link;
    this.#options = options;
    this.#report = report;
    this.#counts = counts;
    this.#events = events;
  }

  /** Takes the lease and renews it from now on. A first renewal that fails is retried like any other. */
  async start(tick: () => void): Promise<void> {
    await this.renew().catch((error: unknown) => this.#events.failed(error, 'taking the node lease'));
    this.#timer = setInterval(() => {
      tick();
      this.renew().catch((error: unknown) => this.#events.failed(error, 'renewing the node lease'));
    }, this.#options.refreshMs);
    this.#timer.unref();
  }

  /** Renews the lease now; one asked for while a renewal runs follows it, shared by everyone who asked meanwhile. */
  renew(): Promise<void> {
    if (this.#running === undefined) {
      this.#running = this.#renewOnce().finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.renew();
      });
    return this.#queued;
  }

  /** The other live nodes' connections by transport, as their leases said at the last renewal. */
  elsewhere(): DeliveryCounts {
    return this.#elsewhere;
  }

  /** Every live node, read now; the last picture known (at most a TTL old) when Redis cannot be read. */
  async deployment(): Promise<DeploymentStats> {
    const own = this.#report();
    try {
      const reply = await NODES.run<[number, ...string[]]>(
        this.#link,
        [this.#options.keys.nodes],
        [this.#options.keys.prefix],
        this.#options.commandTimeoutMs,
      );
      const [users, ...leases] = reply;
      const others = leases.map(parseReport).filter((r): r is NodeReport => r !== undefined && r.node !== own.node);
      // Its own figures fresh: its lease may be seconds old, or lapsed.
      return describeDeployment('redis', [own, ...others], users, true);
    } catch {
      this.#forgetIfStale();
      const users = this.#others.reduce((sum, r) => sum + r.usersOnline, own.usersOnline);
      return describeDeployment('redis', [own, ...this.#others], users, false);
    }
  }

  /** Stops renewing; the lease lapses by itself. */
  stop(): void {
    this.#left = true;
    clearInterval(this.#timer);
  }

  /** Stops renewing and removes the lease and counts at once. */
  async leave(): Promise<void> {
    this.stop();
    await this.#running?.catch(() => undefined);
    const { keys, node, commandTimeoutMs } = this.#options;
    // Failing, the lease lapses by itself within the TTL.
    await LEAVE.run(this.#link, [keys.nodes, keys.lease(node), keys.counts(node)], [node], commandTimeoutMs).catch((error: unknown) =>
      this.#events.failed(error, 'removing the node lease'),
    );
  }

  async #renewOnce(): Promise<void> {
    if (this.#left) return;
    try {
      const counts = this.#counts;
      // A rewrite sent while an admission waits could overwrite the place
      // it takes: it waits for the next renewal, unless the lease had lapsed
      // (then no admission takes a place until the rewrite).
      let reply = await this.#send(counts.dirty && counts.inFlight === 0);
      if (reply[0] === 0 && !this.#left) {
        reply = await this.#send(true);
        this.#events.lapsed();
      }
      const others: NodeReport[] = [];
      const elsewhere = zeroCounts();
      for (const text of reply.slice(2) as string[]) {
        const report = parseReport(text);
        if (report === undefined) continue;
        others.push(report);
        elsewhere.sse += report.connections.byTransport.sse;
        elsewhere.ws += report.connections.byTransport.ws;
        elsewhere.socketio += report.connections.byTransport.socketio;
      }
      this.#others = others;
      this.#elsewhere = elsewhere;
      this.#renewedAt = Date.now();
    } catch (error) {
      this.#forgetIfStale();
      throw error;
    }
  }

  /** One REFRESH; with `rewrite`, this node's counts go with it. */
  async #send(rewrite: boolean): Promise<[number, number, ...string[]]> {
    const { keys, node, ttlMs, commandTimeoutMs } = this.#options;
    const snapshot = rewrite ? this.#counts.snapshot() : undefined;
    const reply = await REFRESH.run<[number, number, ...string[]]>(
      this.#link,
      [keys.nodes, keys.lease(node), keys.counts(node)],
      [node, JSON.stringify(this.#report()), String(ttlMs), rewrite ? '1' : '0', keys.prefix, ...(snapshot?.pairs ?? [])],
      commandTimeoutMs,
    );
    if (snapshot !== undefined && reply[1] === 1) this.#counts.written(snapshot.generation);
    return reply;
  }

  /** Other nodes last seen more than a TTL ago may be gone: they no longer count in the audience. */
  #forgetIfStale(): void {
    if (Date.now() - this.#renewedAt <= this.#options.ttlMs) return;
    this.#others = [];
    this.#elsewhere = zeroCounts();
  }
}
