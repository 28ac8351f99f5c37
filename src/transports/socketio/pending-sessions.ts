import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CodecastError } from '../../domain/index.js';
import type { PendingBudget, PendingTicket } from '../../edge/index.js';

/** The slice of engine.io's Socket (one client session) this file uses. */
export interface EngineSession {
  readonly request: IncomingMessage;
  readonly transport: { readonly socket?: { readonly _socket?: Duplex } };
  /** With `discard`, at once: a long-polling session would otherwise wait for a poll that never comes. */
  close(discard?: boolean): void;
  on(event: 'close', listener: (this: EngineSession) => void): unknown;
  off(event: 'close', listener: (this: EngineSession) => void): unknown;
}

interface PendingSession {
  readonly ticket: PendingTicket;
  readonly openedAt: number;
}

interface Handshake {
  readonly ticket: PendingTicket;
  readonly socket: Duplex;
  readonly onSocketClose: () => void;
}

/**
 * engine.io sessions that have not joined a namespace, in the pending
 * budget: an engine.io handshake needs no token, and each session costs
 * several kilobytes (20,000 of them once added 170 MB). A place is taken
 * when the handshake request arrives and given back when the session
 * authenticates in a namespace, closes, or the handshake fails. A session
 * still pending after the auth timeout is closed here: socket.io's own
 * connect timeout closes a long-polling session only once its client polls
 * again or engine.io's 30 s close timeout passes.
 */
export class PendingSessions {
  readonly #budget: PendingBudget;
  readonly #handshakes = new Map<IncomingMessage, Handshake>();
  /** In the order they opened, so the oldest are first. */
  readonly #sessions = new Map<EngineSession, PendingSession>();
  readonly #onSessionClose: (this: EngineSession) => void;
  readonly #sweeper: NodeJS.Timeout;

  constructor(budget: PendingBudget, authTimeoutMs: number) {
    this.#budget = budget;
    const sessions = this.#sessions;
    this.#onSessionClose = function (this: EngineSession) {
      const pending = sessions.get(this);
      if (!pending) return;
      sessions.delete(this);
      budget.release(pending.ticket);
    };
    this.#sweeper = setInterval(
      () => {
        const cutoff = Date.now() - authTimeoutMs;
        for (const [session, pending] of sessions) {
          if (pending.openedAt > cutoff) break;
          session.close(true); // its 'close' gives the place back
          if (sessions.get(session) === pending) this.#onSessionClose.call(session);
        }
      },
      Math.min(1000, Math.max(50, authTimeoutMs / 4)),
    );
    this.#sweeper.unref();
  }

  /** A handshake request arrived: it takes a place, or answers why not. */
  handshake(req: IncomingMessage, address: string): CodecastError | undefined {
    const ticket = this.#budget.enter(address);
    if (ticket instanceof CodecastError) return ticket;
    // A handshake that ws refuses (a bad key) ends with neither event
    // engine.io gives; its socket closing gives the place back.
    const onSocketClose = () => this.failed(req);
    req.socket.once('close', onSocketClose);
    this.#handshakes.set(req, { ticket, socket: req.socket, onSocketClose });
    return undefined;
  }

  /** engine.io opened the session of a handshake: its place moves to the session. */
  opened(session: EngineSession): void {
    const handshake = this.#take(session.request);
    if (!handshake) return;
    this.#sessions.set(session, { ticket: handshake.ticket, openedAt: Date.now() });
    session.on('close', this.#onSessionClose);
  }

  /** The handshake of `req` failed or its socket went. */
  failed(req: IncomingMessage): void {
    const handshake = this.#take(req);
    if (handshake) this.#budget.release(handshake.ticket);
  }

  /** A namespace admitted the session: it no longer counts. */
  authenticated(session: EngineSession): void {
    const pending = this.#sessions.get(session);
    if (!pending) return;
    this.#sessions.delete(session);
    session.off('close', this.#onSessionClose);
    this.#budget.release(pending.ticket);
  }

  /** Whether the session is open and has been admitted by a namespace. */
  isAuthenticated(session: EngineSession | undefined): boolean {
    return session !== undefined && !this.#sessions.has(session);
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  get size(): number {
    return this.#handshakes.size + this.#sessions.size;
  }

  #take(req: IncomingMessage): Handshake | undefined {
    const handshake = this.#handshakes.get(req);
    if (!handshake) return undefined;
    this.#handshakes.delete(req);
    handshake.socket.off('close', handshake.onSocketClose);
    return handshake;
  }
}
