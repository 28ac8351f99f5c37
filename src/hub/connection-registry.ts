import { CodecastError } from '../domain/index.js';
import { TRANSPORTS, type Connection, type TransportName } from './connection.js';

export interface RegistryLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
}

/**
 * Open connections by transport, how many each user has, and the caps on
 * them. Connections of one transport are kept together (a lane) so a
 * broadcast encodes once per transport and then loops over a plain map,
 * whose value is the connection's fan-out mark: the last outgoing sequence
 * written to it (see `FanOut`). Keeping the mark here, not on the
 * connection, costs one map slot and keeps the transports' contract free of
 * hub bookkeeping. Per user only
 * a count is kept: finding a user's connections (disable, revoke) is a rare
 * admin action and may scan, while a second index would cost every one of
 * tens of thousands of connections its entry.
 */
export class ConnectionRegistry {
  readonly #byTransport = new Map<TransportName, Map<Connection, number>>(TRANSPORTS.map((t) => [t, new Map()]));
  readonly #perUser = new Map<number, number>();
  #size = 0;

  constructor(private readonly limits: RegistryLimits) {}

  /** @throws CodecastError server_full (503) or too_many_connections_for_user (429). */
  checkRoom(userId: number): void {
    if (this.#size >= this.limits.maxConnections) {
      throw new CodecastError('server_full', undefined, { limit: this.limits.maxConnections }, 5);
    }
    const mine = this.#perUser.get(userId) ?? 0;
    if (mine >= this.limits.maxConnectionsPerUser) {
      throw new CodecastError(
        'too_many_connections_for_user',
        `This user has ${mine} open connections, the most allowed; close one first.`,
        { limit: this.limits.maxConnectionsPerUser },
        5,
      );
    }
  }

  /** Registers a connection that has been written everything up to fan-out sequence `mark`. */
  add(connection: Connection, mark: number): void {
    const lane = this.lane(connection.transport);
    if (lane.has(connection)) return;
    lane.set(connection, mark);
    const userId = connection.principal.user.id;
    this.#perUser.set(userId, (this.#perUser.get(userId) ?? 0) + 1);
    this.#size++;
  }

  /** Removes a connection; answers its fan-out mark, or undefined when it was not registered. */
  remove(connection: Connection): number | undefined {
    const lane = this.lane(connection.transport);
    const mark = lane.get(connection);
    if (mark === undefined) return undefined;
    lane.delete(connection);
    const userId = connection.principal.user.id;
    const left = (this.#perUser.get(userId) ?? 1) - 1;
    if (left === 0) this.#perUser.delete(userId);
    else this.#perUser.set(userId, left);
    this.#size--;
    return mark;
  }

  ofUser(userId: number): Connection[] {
    const mine: Connection[] = [];
    if (!this.#perUser.has(userId)) return mine;
    for (const connection of this.all()) if (connection.principal.user.id === userId) mine.push(connection);
    return mine;
  }

  /** The connections of one transport with their fan-out marks; the fan-out updates the marks. */
  lane(transport: TransportName): Map<Connection, number> {
    return this.#byTransport.get(transport) as Map<Connection, number>;
  }

  *all(): Generator<Connection> {
    for (const lane of this.#byTransport.values()) yield* lane.keys();
  }

  get size(): number {
    return this.#size;
  }

  get usersOnline(): number {
    return this.#perUser.size;
  }

  countByTransport(): Record<TransportName, number> {
    return { sse: this.lane('sse').size, ws: this.lane('ws').size, socketio: this.lane('socketio').size };
  }
}
