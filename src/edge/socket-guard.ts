import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CodecastError } from '../domain/index.js';
import { clientAddress } from './client-address.js';
import type { PendingBudget, PendingTicket } from './pending-budget.js';
import { refuseSocket } from './raw-answers.js';
import type { TrustedProxies } from './trusted-proxies.js';

export interface SocketGuardOptions {
  /** A socket that has not sent a complete request by then is closed. */
  readonly authTimeoutMs: number;
  /** Whose connections count only overall: a trusted proxy's peer address stands for many clients. */
  readonly proxies?: Pick<TrustedProxies, 'isProxy'>;
  /** Added to a refusal's answer: CORS headers, so a page on another origin can read it. */
  readonly refusalHeaders?: Readonly<Record<string, string>>;
}

/**
 * Counts every accepted TCP socket against the pending budget until a
 * request on it authenticates (`adopt`), and closes sockets that send no
 * complete request within the auth timeout, so neither a flood of idle
 * sockets nor a slowloris can use up file descriptors and memory before
 * anyone has shown a token. Node's own request timeout
 * (`CODECAST_REQUEST_TIMEOUT_SECONDS`, 30 s) is for requests under way, and
 * answers them 408; this one closes sockets that have sent none, sooner.
 *
 * Listeners are one function per guard, found through `this`: closures per
 * socket would stay for the life of every stream, tens of thousands of them.
 */
export class SocketGuard {
  readonly #budget: PendingBudget;
  readonly #timeoutMs: number;
  readonly #proxies: Pick<TrustedProxies, 'isProxy'> | undefined;
  readonly #refusalHeaders: Readonly<Record<string, string>>;
  /** Sockets still counted, with their place in the budget. */
  readonly #counted = new Map<Socket, PendingTicket>();
  /** Sockets that have not sent a request yet, in the order they came, with when. */
  readonly #unused = new Map<Socket, number>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #onClose: (this: Socket) => void;

  constructor(server: Server, budget: PendingBudget, options: SocketGuardOptions) {
    this.#budget = budget;
    this.#timeoutMs = options.authTimeoutMs;
    this.#proxies = options.proxies;
    this.#refusalHeaders = options.refusalHeaders ?? {};
    const counted = this.#counted;
    const unused = this.#unused;
    this.#onClose = function (this: Socket) {
      unused.delete(this);
      const ticket = counted.get(this);
      if (ticket) {
        counted.delete(this);
        budget.release(ticket);
      }
    };
    server.on('connection', (socket: Socket) => this.#accepted(socket));
    const used = (request: { socket: Socket }) => {
      unused.delete(request.socket);
    };
    server.on('request', used);
    server.on('upgrade', used);
    this.#sweeper = setInterval(() => this.#sweep(Date.now()), Math.min(1000, Math.max(50, this.#timeoutMs / 4)));
    this.#sweeper.unref();
  }

  #accepted(socket: Socket): void {
    const ticket = this.#proxies?.isProxy(socket.remoteAddress)
      ? this.#budget.enterFromProxy()
      : this.#budget.enter(clientAddress(socket.remoteAddress));
    if (ticket instanceof CodecastError) {
      refuseSocket(socket, ticket, this.#refusalHeaders);
      return;
    }
    this.#counted.set(socket, ticket);
    this.#unused.set(socket, Date.now());
    socket.on('close', this.#onClose);
  }

  /** Whether the socket still counts against the budget (no request on it has authenticated). */
  counts(socket: Socket): boolean {
    return this.#counted.has(socket);
  }

  /** The socket carried an authenticated request or stream: it no longer counts. */
  adopt(socket: Duplex | undefined): void {
    const tcp = socket as Socket | undefined;
    if (tcp === undefined) return;
    const ticket = this.#counted.get(tcp);
    if (!ticket) return;
    this.#counted.delete(tcp);
    this.#unused.delete(tcp);
    tcp.off('close', this.#onClose);
    this.#budget.release(ticket);
  }

  #sweep(now: number): void {
    const cutoff = now - this.#timeoutMs;
    for (const [socket, acceptedAt] of this.#unused) {
      // Oldest first: the rest are younger.
      if (acceptedAt > cutoff) break;
      this.#unused.delete(socket);
      socket.destroy();
    }
  }

  /** On stop: sockets that never sent a request would hold server.close() for Node's headers timeout. */
  destroyUnused(): void {
    for (const socket of this.#unused.keys()) socket.destroy();
    this.#unused.clear();
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}
