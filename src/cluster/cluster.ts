import { openRedisLink, type RedisLink } from '../broker/index.js';
import type { DeliveryCounts } from '../hub/index.js';
import { clusterKeys } from './cluster-scripts.js';
import { NodeLease } from './node-lease.js';
import type { DeploymentStats, NodeReport } from './node-report.js';
import { UserSlots } from './user-slots.js';

export interface ClusterOptions {
  readonly url: string;
  readonly prefix: string;
  readonly node: string;
  /** `CODECAST_NODE_TTL_SECONDS`, in ms. */
  readonly ttlMs: number;
  /** `CODECAST_MAX_CONNECTIONS_PER_USER`. */
  readonly maxPerUser: number;
  /** How long one command may wait on Redis (default 1 s): an admission waits at most this before falling back. */
  readonly commandTimeoutMs?: number;
  /** How long connecting at start may take (default 10 s). */
  readonly connectTimeoutMs?: number;
}

export interface ClusterEvents {
  /** Admission cannot ask Redis: the per-user cap counts this node's connections only until it can. */
  degraded(detail: string): void;
  recovered(): void;
  /** This node's lease had lapsed and was renewed with its counts. */
  lapsed(): void;
  failed(error: unknown, what: string): void;
}

/** A place taken before attach waits this long for its connection before it is given back. */
const ATTACH_WITHIN_MS = 10_000;

/**
 * This node's membership of a deployment on Redis: its lease (with its
 * report), its part of every user's connection count, and the picture of
 * every live node. On a connection of its own, so admissions never wait
 * behind the broker's commands.
 */
export class Cluster {
  readonly slots: UserSlots;
  readonly #lease: NodeLease;
  readonly #link: RedisLink;

  private constructor(link: RedisLink, slots: UserSlots, lease: NodeLease) {
    this.#link = link;
    this.slots = slots;
    this.#lease = lease;
  }

  /**
   * Connects, takes the lease and keeps it renewed.
   * @throws when Redis cannot be reached within the connect timeout.
   */
  static async join(options: ClusterOptions, report: () => NodeReport, events: ClusterEvents): Promise<Cluster> {
    const { url, prefix, node, ttlMs, maxPerUser, commandTimeoutMs = 1_000, connectTimeoutMs = 10_000 } = options;
    const keys = clusterKeys(prefix);
    const parts: { slots?: UserSlots; lease?: NodeLease } = {};
    const link = await openRedisLink(
      url,
      `codecast-${node}-cluster`,
      {
        // The broker reports Redis going away; here it only means counts may have been lost.
        error: () => parts.slots?.invalidate(),
        ready: () => {
          parts.slots?.invalidate();
          parts.lease?.renew().catch((error: unknown) => events.failed(error, 'renewing the node lease'));
        },
      },
      connectTimeoutMs,
    );
    const slots: UserSlots = new UserSlots(
      link,
      { node, keys, maxPerUser, ttlMs, commandTimeoutMs, attachWithinMs: ATTACH_WITHIN_MS },
      (): Promise<void> => lease.renew(),
      events,
    );
    const lease: NodeLease = new NodeLease(
      link,
      { node, keys, ttlMs, refreshMs: Math.max(250, Math.floor(ttlMs / 3)), commandTimeoutMs },
      report,
      slots,
      events,
    );
    parts.slots = slots;
    parts.lease = lease;
    await lease.start(() => slots.expire());
    return new Cluster(link, slots, lease);
  }

  /** The other live nodes' connections by transport, from their leases: what a publish reaches beyond this node. */
  elsewhere(): DeliveryCounts {
    return this.#lease.elsewhere();
  }

  deployment(): Promise<DeploymentStats> {
    return this.#lease.deployment();
  }

  /** Leaves at once: the lease and counts are removed, so the others stop counting this node. */
  async leave(): Promise<void> {
    this.slots.stop();
    await this.#lease.leave();
  }

  /** Closes the connection: after `leave`, or instead of it when the start failed. */
  close(): void {
    this.slots.stop();
    this.#lease.stop();
    this.#link.close();
  }
}
