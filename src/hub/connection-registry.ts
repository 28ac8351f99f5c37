import { CodecastError } from '../domain/index.js';
import { TRANSPORTS, type Connection, type TransportName } from './connection.js';

export interface RegistryLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
}

/**
 * Open connections by id, by user and by transport, and the caps on them.
 * Connections of one transport are kept together so a broadcast encodes once
 * per transport and then loops over plain sets.
 */
export class ConnectionRegistry {
  readonly #byId = new Map<string, Connection>();
  readonly #byUser = new Map<number, Set<Connection>>();
  readonly #byTransport = new Map<TransportName, Set<Connection>>(TRANSPORTS.map((t) => [t, new Set()]));

  constructor(private readonly limits: RegistryLimits) {}

  /** @throws CodecastError server_full (503) or too_many_connections_for_user (429). */
  checkRoom(userId: number): void {
    if (this.#byId.size >= this.limits.maxConnections) {
      throw new CodecastError('server_full', undefined, { limit: this.limits.maxConnections }, 5);
    }
    const mine = this.#byUser.get(userId)?.size ?? 0;
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
    this.#byId.set(connection.id, connection);
    const userId = connection.principal.user.id;
    let mine = this.#byUser.get(userId);
    if (!mine) this.#byUser.set(userId, (mine = new Set()));
    mine.add(connection);
    this.#transportSet(connection.transport).add(connection);
  }

  /** Removes a connection; false when it was not registered. */
  remove(connection: Connection): boolean {
    if (this.#byId.get(connection.id) !== connection) return false;
    this.#byId.delete(connection.id);
    const userId = connection.principal.user.id;
    const mine = this.#byUser.get(userId);
    mine?.delete(connection);
    if (mine?.size === 0) this.#byUser.delete(userId);
    this.#transportSet(connection.transport).delete(connection);
    return true;
  }

  get(id: string): Connection | undefined {
    return this.#byId.get(id);
  }

  ofUser(userId: number): readonly Connection[] {
    return [...(this.#byUser.get(userId) ?? [])];
  }

  ofTransport(transport: TransportName): ReadonlySet<Connection> {
    return this.#transportSet(transport);
  }

  all(): IterableIterator<Connection> {
    return this.#byId.values();
  }

  get size(): number {
    return this.#byId.size;
  }

  get usersOnline(): number {
    return this.#byUser.size;
  }

  countByTransport(): Record<TransportName, number> {
    return { sse: this.#transportSet('sse').size, ws: this.#transportSet('ws').size, socketio: this.#transportSet('socketio').size };
  }

  #transportSet(transport: TransportName): Set<Connection> {
    return this.#byTransport.get(transport) as Set<Connection>;
  }
}
