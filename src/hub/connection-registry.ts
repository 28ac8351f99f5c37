import { CodecastError } from '../domain/index.js';
import { TRANSPORTS, type Connection, type TransportName } from './connection.js';

export interface RegistryLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
}

/**
 * Open connections by transport, how many each user has, and the caps on
 * them. Connections of one transport are kept together so a broadcast
 * encodes once per transport and then loops over a plain set. Per user only
 * a count is kept: finding a user's connections (disable, revoke) is a rare
 * admin action and may scan, while a second index would cost every one of
 * tens of thousands of connections its entry.
 */
export class ConnectionRegistry {
  readonly #byTransport = new Map<TransportName, Set<Connection>>(TRANSPORTS.map((t) => [t, new Set()]));
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

  add(connection: Connection): void {
    const set = this.#transportSet(connection.transport);
    if (set.has(connection)) return;
    set.add(connection);
    const userId = connection.principal.user.id;
    this.#perUser.set(userId, (this.#perUser.get(userId) ?? 0) + 1);
    this.#size++;
  }

  /** Removes a connection; false when it was not registered. */
  remove(connection: Connection): boolean {
    if (!this.#transportSet(connection.transport).delete(connection)) return false;
    const userId = connection.principal.user.id;
    const left = (this.#perUser.get(userId) ?? 1) - 1;
    if (left === 0) this.#perUser.delete(userId);
    else this.#perUser.set(userId, left);
    this.#size--;
    return true;
  }

  ofUser(userId: number): Connection[] {
    const mine: Connection[] = [];
    if (!this.#perUser.has(userId)) return mine;
    for (const connection of this.all()) if (connection.principal.user.id === userId) mine.push(connection);
    return mine;
  }

  ofTransport(transport: TransportName): ReadonlySet<Connection> {
    return this.#transportSet(transport);
  }

  *all(): Generator<Connection> {
    for (const set of this.#byTransport.values()) yield* set;
  }

  get size(): number {
    return this.#size;
  }

  get usersOnline(): number {
    return this.#perUser.size;
  }

  countByTransport(): Record<TransportName, number> {
    return { sse: this.#transportSet('sse').size, ws: this.#transportSet('ws').size, socketio: this.#transportSet('socketio').size };
  }

  #transportSet(transport: TransportName): Set<Connection> {
    return this.#byTransport.get(transport) as Set<Connection>;
  }
}
