import type { RedisLink } from '../broker/index.js';
import { CodecastError } from '../domain/index.js';
import { ADJUST, TAKE, type ClusterKeys } from './cluster-scripts.js';

export interface UserSlotsOptions {
  readonly node: string;
  readonly keys: ClusterKeys;
  /** `CODECAST_MAX_CONNECTIONS_PER_USER`, counted over the deployment. */
  readonly maxPerUser: number;
  readonly ttlMs: number;
  /** How long one admission may wait on Redis before it falls back to the local cap. */
  readonly commandTimeoutMs: number;
  /** How long a place taken may wait for its connection to attach before it is given back. */
  readonly attachWithinMs: number;
}

export interface UserSlotsEvents {
  /** Redis could not be asked: the per-user cap counts this node's connections only. Once per outage. */
  degraded(detail: string): void;
  /** Admission counts the deployment again. */
  recovered(): void;
}

/** What the lease asks of the counts when it writes them whole. */
export interface LocalCounts {
  /** A write of the counts may have been lost (Redis away, a timeout): they must be rewritten. */
  readonly dirty: boolean;
  /** Admissions waiting on Redis now: a rewrite sent meanwhile could miss their place. */
  readonly inFlight: number;
  /** The node's truth as user id and count pairs, and the generation it belongs to. */
  snapshot(): { readonly generation: number; readonly pairs: readonly string[] };
  /** The snapshot of `generation` is in Redis. */
  written(generation: number): void;
}

type TakeReply = [status: number, total: number];

/**
 * A user's connections across the deployment, this node's part of them.
 *
 * `take` runs before a connection attaches: in one Redis script it sums the
 * user's connections on every live node and takes a place on this one if
 * the sum is under the cap (429 otherwise). The place becomes the
 * connection's when it attaches (`attached`), and is given back when the
 * connection closes (`released`), or after `attachWithinMs` if it never
 * attached (the client left while it was admitted, or a local check
 * refused it).
 *
 * This node's truth — connections open plus places taken — is kept here;
 * whenever a write to Redis may have been lost, the lease writes it whole
 * again (see `NodeLease`). While Redis cannot be asked, admission falls
 * back to the per-process cap the hub enforces, said once in the log.
 */
export class UserSlots implements LocalCounts {
  readonly #link: RedisLink;
  readonly #options: UserSlotsOptions;
  readonly #renew: () => Promise<void>;
  readonly #events: UserSlotsEvents;
  readonly #held = new Map<number, number>();
  /** When each place not attached yet was taken, per user, oldest first. */
  readonly #pending = new Map<number, number[]>();
  #inFlight = 0;
  #generation = 0;
  #written = -1;
  #degraded = false;
  #stopped = false;

  constructor(link: RedisLink, options: UserSlotsOptions, renew: () => Promise<void>, events: UserSlotsEvents) {
    this.#link = link;
    this.#options = options;
    this.#renew = renew;
    this.#events = events;
  }

  get dirty(): boolean {
    return this.#written !== this.#generation;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Takes a place for a new connection of the user, counting the deployment.
   * @throws CodecastError too_many_connections_for_user (429).
   */
  async take(userId: number): Promise<void> {
    let reply = await this.#ask(userId);
    if (reply?.[0] === -1) {
      // The lease lapsed (Redis restarted empty, or this node was cut off):
      // renewing it writes this node's counts, then the user is counted.
      await this.#renew().catch(() => undefined);
      reply = await this.#ask(userId);
    }
    if (reply === undefined || reply[0] === -1) {
      this.#fallBack('Redis did not answer');
    } else if (reply[0] === 0) {
      const { maxPerUser } = this.#options;
      throw new CodecastError(
        'too_many_connections_for_user',
        `This user has ${reply[1]} open connections, the most allowed; close one first.`,
        { limit: maxPerUser },
        5,
      );
    } else if (this.#degraded) {
      this.#degraded = false;
      this.#events.recovered();
    }
    this.#hold(userId, 1);
    const pending = this.#pending.get(userId);
    if (pending) pending.push(Date.now());
    else this.#pending.set(userId, [Date.now()]);
  }

  /** A connection of the user attached: it holds a place taken for it, or takes one now. */
  attached(userId: number): void {
    const pending = this.#pending.get(userId);
    if (pending !== undefined) {
      pending.shift();
      if (pending.length === 0) this.#pending.delete(userId);
      return;
    }
    // Its place was given back before it attached: counted now, past the cap if need be.
    this.#hold(userId, 1);
    this.#adjust(userId, 1);
  }

  /** A connection of the user closed: its place is given back. */
  released(userId: number): void {
    this.#hold(userId, -1);
    this.#adjust(userId, -1);
  }

  /** Gives back the places whose connection did not attach in time. */
  expire(now = Date.now()): void {
    const oldest = now - this.#options.attachWithinMs;
    for (const [userId, pending] of this.#pending) {
      while (pending.length > 0 && (pending[0] as number) <= oldest) {
        pending.shift();
        this.released(userId);
      }
      if (pending.length === 0) this.#pending.delete(userId);
    }
  }

  snapshot(): { generation: number; pairs: string[] } {
    const pairs: string[] = [];
    for (const [userId, count] of this.#held) pairs.push(String(userId), String(count));
    return { generation: this.#generation, pairs };
  }

  written(generation: number): void {
    this.#written = generation;
    if (this.#degraded && generation === this.#generation) {
      this.#degraded = false;
      this.#events.recovered();
    }
  }

  /** The counts in Redis may no longer match this node's (a reconnect): written whole at the next renewal. */
  invalidate(): void {
    this.#generation++;
  }

  /** The node is leaving: its lease and counts are removed whole, nothing more is written. */
  stop(): void {
    this.#stopped = true;
  }

  /** Answers the script's reply, or undefined when Redis could not be asked. */
  async #ask(userId: number): Promise<TakeReply | undefined> {
    if (this.#stopped) return undefined;
    const { keys, node, maxPerUser, ttlMs, commandTimeoutMs } = this.#options;
    this.#inFlight++;
    try {
      return await TAKE.run<TakeReply>(
        this.#link,
        [keys.nodes, keys.lease(node), keys.counts(node)],
        [node, String(userId), String(maxPerUser), String(ttlMs), keys.prefix],
        commandTimeoutMs,
      );
    } catch {
      // It may have taken the place all the same (a timeout): the counts are rewritten.
      this.invalidate();
      return undefined;
    } finally {
      this.#inFlight--;
    }
  }

  #fallBack(detail: string): void {
    this.invalidate();
    if (this.#degraded || this.#stopped) return;
    this.#degraded = true;
    this.#events.degraded(detail);
  }

  #hold(userId: number, delta: number): void {
    const count = (this.#held.get(userId) ?? 0) + delta;
    if (count > 0) this.#held.set(userId, count);
    else this.#held.delete(userId);
  }

  #adjust(userId: number, delta: number): void {
    if (this.#stopped) return;
    const { keys, node, ttlMs, commandTimeoutMs } = this.#options;
    ADJUST.run(this.#link, [keys.lease(node), keys.counts(node)], [String(userId), String(delta), String(ttlMs)], commandTimeoutMs).catch(
      () => this.invalidate(),
    );
  }
}
