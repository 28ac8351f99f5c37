import { CodecastError } from '../domain/index.js';

export interface PendingLimits {
  /** Unauthenticated connections the process holds at once, from everyone. */
  readonly maxPending: number;
  /** The same, from one client address. */
  readonly maxPendingPerAddress: number;
}

/** One place in the budget; released once, whatever path lets go of it first. */
export interface PendingTicket {
  /** Undefined for a trusted proxy's connection, which counts only overall. */
  readonly address: string | undefined;
  released: boolean;
}

export interface PendingStats {
  readonly pending: number;
  readonly addresses: number;
  readonly refused: { readonly perAddress: number; readonly overall: number };
}

/** How long a refused client should wait: places free as others authenticate or time out. */
export const PENDING_RETRY_AFTER_SECONDS = 2;

/**
 * The budget of connections that have not authenticated: TCP sockets that
 * have carried no authenticated request yet, and Socket.IO sessions that
 * have joined no namespace. Each costs memory and a file descriptor before
 * anyone knows who is behind it, so each counts, per address and overall,
 * until it authenticates or goes. Entries live only while an address has a
 * place taken, so the map is bounded by `maxPending`.
 */
export class PendingBudget {
  readonly #limits: PendingLimits;
  readonly #byAddress = new Map<string, number>();
  #pending = 0;
  #refusedPerAddress = 0;
  #refusedOverall = 0;

  constructor(limits: PendingLimits) {
    this.#limits = limits;
  }

  /** Takes a place for a connection from `address`, or answers the error to refuse it with. */
  enter(address: string): PendingTicket | CodecastError {
    const mine = this.#byAddress.get(address) ?? 0;
    if (mine >= this.#limits.maxPendingPerAddress) {
      this.#refusedPerAddress++;
      return new CodecastError('too_many_pending_connections', undefined, undefined, PENDING_RETRY_AFTER_SECONDS);
    }
    const refusal = this.#overallRefusal();
    if (refusal) return refusal;
    this.#byAddress.set(address, mine + 1);
    this.#pending++;
    return { address, released: false };
  }

  /**
   * Takes a place for a TCP connection from a trusted proxy. Its client is
   * known only once a request names it, and the proxy's own address stands
   * for every client behind it, so it counts only toward the overall cap;
   * what a client may hold is then limited where its address is known (its
   * Socket.IO sessions here, its connections at the proxy).
   */
  enterFromProxy(): PendingTicket | CodecastError {
    const refusal = this.#overallRefusal();
    if (refusal) return refusal;
    this.#pending++;
    return { address: undefined, released: false };
  }

  #overallRefusal(): CodecastError | undefined {
    if (this.#pending < this.#limits.maxPending) return undefined;
    this.#refusedOverall++;
    return new CodecastError('server_busy', undefined, undefined, PENDING_RETRY_AFTER_SECONDS);
  }

  release(ticket: PendingTicket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.#pending--;
    if (ticket.address === undefined) return;
    const left = (this.#byAddress.get(ticket.address) ?? 1) - 1;
    if (left > 0) this.#byAddress.set(ticket.address, left);
    else this.#byAddress.delete(ticket.address);
  }

  stats(): PendingStats {
    return {
      pending: this.#pending,
      addresses: this.#byAddress.size,
      refused: { perAddress: this.#refusedPerAddress, overall: this.#refusedOverall },
    };
  }
}
