/**
 * # The broker: how what happens on one node reaches every other
 *
 * A deployment is one or more codecast processes (nodes) sharing one
 * database, which is the record. The broker carries, between nodes, what
 * each node must act on at once; it is a driver chosen once at start
 * (`createBroker`): `memory` for one process (or several nodes in one
 * process joined by a `MemoryBus`, for tests), `redis` next (issue 11).
 *
 * ## What a driver must carry
 *
 * Every `BrokerMessage`, unchanged, to every node of the deployment but its
 * sender. A message is a discriminated union on `type`, and every one
 * carries `node`, the sender's node id: the sender has already acted on it
 * locally, and a driver that hears its own messages back (a Redis channel
 * does) drops them by this field.
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
 * A publish that resolves has been accepted by the driver for delivery to
 * every node, or is recoverable from the database by `catchUp`; a publish
 * that rejects (the driver's server is unreachable) makes the caller answer
 * `503`.
 *
 * ## In what order
 *
 * One order for the deployment: every node is handed the messages in the
 * same order, codes in increasing id, and a revoke after the code it
 * revokes. Ids come from the database; a driver that carries messages
 * through one ordered stream (a Redis stream, with the id given and the
 * entry appended in one script) keeps that order for every reader. A driver
 * delivers to a node on one path (`BrokerNode.deliver`, synchronously, one
 * message at a time), never two messages at once.
 *
 * The memory driver delivers synchronously, so one process is always in
 * order. Nodes sharing a `MemoryBus` are in order as long as their
 * publishes do not race (tests publish on one node at a time).
 *
 * ## Gaps, and how a node catches up
 *
 * A driver that can lose messages — a dropped connection, a server that
 * restarted empty, a reader that fell behind a capped stream — must notice
 * it: a position in its stream that skips, a reconnect, an epoch that
 * changed. It then calls `BrokerNode.catchUp()` and waits for it before
 * delivering anything newer. Ids alone cannot show a gap: a PostgreSQL
 * sequence skips the ids of transactions that rolled back.
 *
 * Catching up is the node's part, from the database: every code with an id
 * above the newest the node holds, in id order (broadcast, and revoked at
 * once if it already was); the revoked state of every code its history
 * holds; the access changes since the last it applied (the auth events);
 * and the runtime settings. Codes arrive at subscribers in order, without
 * repeats; a revoke that raced is sent after its code.
 *
 * ## What a driver is not
 *
 * It keeps no history and decides no ids: the database does both. It never
 * delivers a node's own message back to it, and it never throws into
 * `deliver`'s caller: a failure to reach its server is the driver's to
 * retry, then to recover from with `catchUp`.
 */
import type { Code } from '../domain/index.js';

/** The drivers a broker can be made with; the config parses which one a deployment uses. */
export type BrokerKind = 'memory';
export const BROKER_KINDS: readonly BrokerKind[] = ['memory'];

/** What one node tells the others; see the contract above for each `type`. */
export type BrokerMessage =
  | { readonly type: 'code'; readonly node: string; readonly code: Code }
  | { readonly type: 'revoke'; readonly node: string; readonly id: number }
  | { readonly type: 'access'; readonly node: string; readonly userId: number; readonly tokenId: number | null }
  | { readonly type: 'settings'; readonly node: string };

/** What a node gives its broker to act on what others publish. */
export interface BrokerNode {
  /** A message from another node, in the deployment's order. Never throws. */
  deliver(message: BrokerMessage): void;
  /**
   * Messages may have been lost: re-read from the database what the node
   * could have missed. The driver delivers nothing newer until it resolves.
   */
  catchUp(): Promise<void>;
}

/** A driver: see the contract at the top of this file. */
export interface Broker {
  readonly driver: BrokerKind;
  start(node: BrokerNode): Promise<void>;
  publish(message: BrokerMessage): Promise<void>;
  stop(): Promise<void>;
}
