/**
 * # The broker: how what happens on one node reaches every node
 *
 * A deployment is one or more codecast processes (nodes) sharing one
 * database, which is the record and gives every code its id. The broker
 * carries, to every node, what each must act on at once; it is a driver
 * chosen once at start (`createBroker`): `memory` for one process (or
 * several nodes in one process joined by a `MemoryBus`, for tests), `redis`
 * for a cluster.
 *
 * ## What a driver must carry
 *
 * Every `BrokerMessage`, unchanged, to every node of the deployment —
 * the sender included: a node delivers its own publishes on the same path
 * as everyone else's, so every node sees one sequence. A message is a
 * discriminated union on `type`, and every one carries `node`, the
 * sender's node id.
 *
 * - `code`: a code was published and stored; every node broadcasts it to
 *   its own subscribers.
 * - `revoke`: a code was revoked (stored first); every node tells its
 *   subscribers and stops replaying it.
 * - `access`: access was withdrawn (a user disabled, or one token revoked,
 *   `tokenId`); every node forgets what its user cache holds of it and
 *   closes the connections that lost access.
 * - `settings`: the runtime settings changed; every node reads them again
 *   from the database.
 *
 * `publish` refuses at once (`BrokerUnavailableError`) while `health()` is
 * not ok, so a publish is refused before it is stored. One that resolves
 * has been accepted for delivery to every node; one that rejects after the
 * caller stored something leaves it recoverable from the database: the
 * driver keeps it and sends it when it can, and every node's `catchUp`
 * reads the database.
 *
 * ## In what order
 *
 * Ids come from the database, committed in id order under its publish
 * lock. A driver hands a node its messages on one path
 * (`BrokerNode.deliver`, one at a time), in the order of its stream. That
 * order may differ from the ids' where two nodes appended after their
 * commits; the node (`BrokerReceiver`) restores the ids' order: it never
 * sends a code at or below the last it sent, and catches up from the
 * database before a code that skips one.
 *
 * The memory driver delivers synchronously, so one process is always in
 * order.
 *
 * ## Gaps, and how a node catches up
 *
 * A driver that can lose messages — a dropped connection, a server that
 * restarted empty, a reader that fell behind a capped stream — must notice
 * it (a reconnect, an epoch that changed) and call `BrokerNode.catchUp()`.
 * Catching up is the node's part, from the database: every live code with
 * an id above the newest the node sent, in id order; the revoked state of
 * every code its history holds; the access changes since the last it
 * applied (the auth events); and the runtime settings.
 *
 * ## What a driver is not
 *
 * It keeps no history a client is replayed from and decides no ids: the
 * database does both. It never throws into `deliver`'s caller: a failure to
 * reach its server is the driver's to retry, then to recover from with
 * `catchUp`.
 */
import type { Code } from '../domain/index.js';

/** The drivers a broker can be made with; the config parses which one a deployment uses. */
export type BrokerKind = 'memory' | 'redis';
export const BROKER_KINDS: readonly BrokerKind[] = ['memory', 'redis'];

/** Whether a driver can carry messages now, and why not, for /readyz and the log. */
export interface BrokerHealth {
  readonly ok: boolean;
  /** Why not, for an operator; absent when ok. */
  readonly detail?: string;
}

/** A publish refused because the driver cannot carry it now; nothing was stored for it. */
export class BrokerUnavailableError extends Error {
  constructor(readonly detail: string) {
    super(`the broker cannot carry messages now: ${detail}`);
    this.name = 'BrokerUnavailableError';
  }
}

/** What one node tells the others; see the contract above for each `type`. */
export type BrokerMessage =
  | { readonly type: 'code'; readonly node: string; readonly code: Code }
  | { readonly type: 'revoke'; readonly node: string; readonly id: number }
  | { readonly type: 'access'; readonly node: string; readonly userId: number; readonly tokenId: number | null }
  | { readonly type: 'settings'; readonly node: string };

/** What a node gives its broker to act on what others publish. */
export interface BrokerNode {
  /** A message from any node, this one included, in the driver's order. Never throws. */
  deliver(message: BrokerMessage): void;
  /**
   * Messages may have been lost: re-read from the database what the node
   * could have missed. Messages delivered meanwhile are held and handled
   * after it.
   */
  catchUp(): Promise<void>;
}

/** A driver: see the contract at the top of this file. */
export interface Broker {
  readonly driver: BrokerKind;
  health(): BrokerHealth;
  start(node: BrokerNode): Promise<void>;
  publish(message: BrokerMessage): Promise<void>;
  stop(): Promise<void>;
}
