import type { Code } from '../domain/index.js';
import { CodecastError } from '../domain/index.js';
import { ConnectionRegistry, type RegistryLimits } from './connection-registry.js';
import {
  CLOSE_REASONS,
  TRANSPORTS,
  type CloseReason,
  type Connection,
  type Encoder,
  type HubEvent,
  type TransportName,
} from './connection.js';
import { DeliveryLedger, type DeliveryCounts } from './delivery-ledger.js';
import { FanOut } from './fan-out.js';
import { FloodCooloff } from './flood-cooloff.js';
import { frameOfHeld, type HistoryRing, revokeFrameOfHeld } from './history-ring.js';
import { SILENT_OBSERVER, type HubObserver } from './hub-observer.js';

export interface HubOptions extends RegistryLimits {
  /** Frames a connection may leave untaken before it is closed as a slow consumer. */
  readonly connectionQueue: number;
  readonly heartbeatMs: number;
  readonly staleMs: number;
  /** How long the fan-out writes before letting the event loop run (default 5 ms). */
  readonly fanOutTurnMs?: number;
  /** How long a user whose connection was cut for flooding may open no other (default 10 s). */
  readonly floodCooloffMs?: number;
}

export interface HubStats {
  readonly connections: number;
  readonly byTransport: DeliveryCounts;
  readonly usersOnline: number;
  readonly queuedBytes: number;
  readonly opened: number;
  readonly closes: Readonly<Record<CloseReason, number>>;
  readonly delivered: Readonly<DeliveryCounts>;
  readonly replayed: number;
  readonly codesBroadcast: number;
  readonly lastId: number;
  readonly historySize: number;
}

/**
 * The fan-out: the history ring, the connection registry and its limits.
 * It knows connections only through the `Connection` contract and encodes
 * every broadcast once per transport through that transport's `Encoder`.
 */
export class Hub {
  readonly #options: HubOptions;
  readonly #registry: ConnectionRegistry;
  readonly #history: HistoryRing;
  readonly #encoders = new Map<TransportName, Encoder<unknown>>();
  readonly #closes = Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])) as Record<CloseReason, number>;
  readonly #deliveries: DeliveryLedger;
  #opened = 0;
  #codesBroadcast = 0;
  #closing = false;
  readonly #fanOut: FanOut;
  readonly #observer: HubObserver;
  readonly #cooloff: FloodCooloff;
  readonly #revokeListeners: ((id: number) => void)[] = [];
  #catchUpTo: ((id: number) => Promise<void>) | undefined;

  constructor(
    options: HubOptions,
    history: HistoryRing,
    observer: HubObserver = SILENT_OBSERVER,
    deliveries: DeliveryLedger = new DeliveryLedger(),
  ) {
    this.#options = options;
    this.#deliveries = deliveries;
    this.#registry = new ConnectionRegistry(options);
    this.#cooloff = new FloodCooloff(options.floodCooloffMs ?? 10_000);
    this.#history = history;
    this.#observer = observer;
    this.#fanOut = new FanOut(
      this.#registry,
      {
        encoderOf: (transport) => this.#encoderOf(transport),
        delivered: (transport, count) => {
          this.#deliveries.live(transport, count);
          this.#observer.delivered(transport, count, 'live');
        },
        // Closed, not skipped: a slow consumer recovers the codes by replay.
        slowConsumer: (connection) => this.close(connection, 'slow_consumer'),
      },
      { connectionQueue: options.connectionQueue, sliceSize: 64, turnMs: options.fanOutTurnMs ?? 5 },
    );
  }

  /** Makes a transport's encoder known; done once per transport at start. */
  useEncoder(encoder: Encoder<unknown>): void {
    this.#encoders.set(encoder.transport, encoder);
  }

  /**
   * Whether a new connection of this user may open now. Call it before
   * answering the client, then `attach` in the same tick.
   * @throws CodecastError shutting_down, too_many_messages (cooling off after
   *   a flood), server_full or too_many_connections_for_user.
   */
  admit(userId: number): void {
    if (this.#closing) throw new CodecastError('shutting_down', undefined, undefined, 2);
    this.#cooloff.check(userId);
    this.#registry.checkRoom(userId);
  }

  /**
   * Sends hello, a reset when `since` is beyond history, the revokes and
   * codes missed since `since`, then registers the connection for live
   * codes — all in one synchronous step, so no live code can slip between
   * replay and live. The connection joins the fan-out at its head: a revoke
   * appended before this step is in the history already (replayed, or its
   * code skipped), never also sent live.
   */
  attach(connection: Connection, since: number | undefined): void {
    const encoder = this.#encoderOf(connection.transport);
    const history = this.#history;
    const sendOwn = (event: HubEvent) => {
      const frame = encoder.encode(event);
      if (frame !== null) connection.send(frame);
    };
    sendOwn({
      type: 'hello',
      data: { connectionId: connection.id, lastId: history.lastId, heartbeatSeconds: this.#options.heartbeatMs / 1000 },
    });
    if (since !== undefined) {
      // Further back than history reaches, or ahead of every code we know
      // (the client saw a deployment whose codes are gone): either way the
      // client's view may be wrong, and it is told so.
      if (!history.covers(since) || since > history.lastId) {
        sendOwn({ type: 'reset', data: { oldestId: history.oldestId, lastId: history.lastId } });
      }
      // Revokes first: they concern codes the client already holds (ids up
      // to `since`), so none can arrive before its code (issue 9).
      for (const held of history.revokedSince(since)) connection.send(revokeFrameOfHeld(held, encoder));
      const now = Date.now();
      let replayed = 0;
      for (const held of history.after(since, now)) {
        connection.send(frameOfHeld(held, encoder));
        this.#deliveries.replayed(held.code.id, connection.transport);
        replayed++;
      }
      if (replayed > 0) this.#observer.delivered(connection.transport, replayed, 'replay');
    }
    connection.startLive();
    // Replay covered every code up to the fan-out's head: live starts after it.
    this.#registry.add(connection, this.#fanOut.head);
    this.#opened++;
    this.#observer.opened(connection.transport, connection.principal.user.id);
  }

  /** Called by a transport when its connection has ended, for whatever reason. */
  detach(connection: Connection): void {
    if (this.#unregister(connection)) this.#recordClose(connection, 'client_closed');
  }

  #unregister(connection: Connection): boolean {
    const mark = this.#registry.remove(connection);
    if (mark === undefined) return false;
    this.#fanOut.left(mark);
    return true;
  }

  #recordClose(connection: Connection, reason: CloseReason): void {
    this.#closes[reason]++;
    const openMs = Date.now() - connection.openedAt;
    this.#observer.closed({ id: connection.id, transport: connection.transport, userId: connection.principal.user.id }, reason, openMs);
  }

  /**
   * Hands a freshly published code to the fan-out and answers the audience.
   * History takes it now, so a connection attached from here on replays it
   * and one attached before gets it live — never both, never neither. The
   * writes happen after the current task, a slice of connections per turn
   * of the event loop, so the publish is answered without waiting for
   * thousands of socket writes. `onSent` hears how long until every
   * connection had it.
   */
  broadcastCode(code: Code, onSent?: (fanOutMs: number) => void): DeliveryCounts {
    this.#codesBroadcast++;
    const observer = this.#observer;
    this.#fanOut.append(this.#history.push(code), (ms) => {
      observer.fannedOut(ms);
      onSent?.(ms);
    });
    return this.audience();
  }

  /** Takes a code out of replay and tells every connection (through the fan-out, so in order). */
  revokeCode(id: number): DeliveryCounts {
    const held = this.#history.revoke(id);
    for (const listener of this.#revokeListeners) listener(id);
    // A held code's revoke frames serve live and replay alike: encoded once per transport.
    this.#fanOut.append(held ? { revokeOf: held } : { type: 'revoke', data: { id } });
    return this.audience();
  }

  /**
   * Hears every revoke, published here or by another node: what keeps its
   * own record of codes (the acknowledger, for codes older than history)
   * learns of it on one path.
   */
  /**
   * How this node catches up with the deployment when a client has seen
   * codes it has not (in a cluster, a node cut off for a while lags behind
   * the others). Unset for one process: nobody can be ahead of it.
   */
  catchUpWith(catchUpTo: (id: number) => Promise<void>): void {
    this.#catchUpTo = catchUpTo;
  }

  /**
   * Before `admit` and `attach` of a client resuming after `since`: when
   * `since` is past every code this node holds, the client saw them on
   * another node, and this node catches up first — so it replays from the
   * deployment's history rather than answering `reset` from its own. Never
   * throws; a catch-up that cannot be made leaves `attach` to say `reset`.
   */
  async catchUpFor(since: number | undefined): Promise<void> {
    if (since === undefined || since <= this.lastId || this.#catchUpTo === undefined) return;
    await this.#catchUpTo(since).catch(() => undefined);
  }

  onRevoke(listener: (id: number) => void): void {
    this.#revokeListeners.push(listener);
  }

  heartbeat(): void {
    this.#fanOut.append({ type: 'ping', data: { time: new Date().toISOString() } });
  }

  /** Open connections by transport: who a broadcast made now would reach. */
  audience(): DeliveryCounts {
    return this.#registry.countByTransport();
  }

  /** Ends a connection for a reason the hub or an operator chose. */
  close(connection: Connection, reason: CloseReason, farewell?: unknown): void {
    if (reason === 'too_many_messages') this.#cooloff.flooded(connection.principal.user.id);
    if (this.#unregister(connection)) this.#recordClose(connection, reason);
    connection.close(reason, farewell);
  }

  /** Closes every connection of a user (disabled) — at once, on every transport. */
  closeUser(userId: number, reason: CloseReason): number {
    const connections = this.#registry.ofUser(userId);
    for (const connection of connections) this.close(connection, reason);
    return connections.length;
  }

  closeToken(userId: number, tokenId: number, reason: CloseReason): number {
    const connections = this.#registry.ofUser(userId).filter((c) => c.principal.tokenId === tokenId);
    for (const connection of connections) this.close(connection, reason);
    return connections.length;
  }

  /** Closes connections whose peer has shown no sign of life for the stale timeout. */
  sweep(now = Date.now()): number {
    const stale: Connection[] = [];
    for (const connection of this.#registry.all()) {
      if (now - connection.lastSignOfLife(now) > this.#options.staleMs) stale.push(connection);
    }
    for (const connection of stale) this.close(connection, 'stale');
    return stale.length;
  }

  /**
   * Refuses new connections, then says goodbye to every open one: every
   * farewell is written before any connection closes, because connections
   * may share a transport underneath (Socket.IO namespaces of one client).
   */
  shutdown(reconnectAfterMs: number): void {
    this.#closing = true;
    this.#fanOut.flushAll(); // codes already published go out before the farewell
    const farewell: HubEvent = { type: 'shutdown', data: { reconnectAfterMs } };
    const connections = [...this.#registry.all()];
    for (const transport of TRANSPORTS) {
      const frame = this.#encoderOf(transport).encode(farewell);
      if (frame === null) continue;
      for (const connection of this.#registry.lane(transport).keys()) connection.send(frame);
    }
    for (const connection of connections) this.close(connection, 'shutdown');
  }

  get lastId(): number {
    return this.#history.lastId;
  }

  get closing(): boolean {
    return this.#closing;
  }

  stats(): HubStats {
    let queuedBytes = 0;
    for (const connection of this.#registry.all()) queuedBytes += connection.bufferedBytes;
    return {
      connections: this.#registry.size,
      byTransport: this.#registry.countByTransport(),
      usersOnline: this.#registry.usersOnline,
      queuedBytes,
      opened: this.#opened,
      closes: { ...this.#closes },
      ...this.#deliveries.stats(),
      codesBroadcast: this.#codesBroadcast,
      lastId: this.#history.lastId,
      historySize: this.#history.size,
    };
  }

  #encoderOf(transport: TransportName): Encoder<unknown> {
    const encoder = this.#encoders.get(transport);
    if (!encoder) throw new Error(`no encoder registered for transport ${transport}`);
    return encoder;
  }
}
