import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { CodecastError, bearerFromHeader, parseSince, type Principal } from '../../domain/index.js';
import {
  refuseSocket,
  toCodecastError,
  writeRawError,
  type EdgeMount,
  type PendingBudget,
  type Transport,
  type TransportParts,
} from '../../edge/index.js';
import { NamespaceAttempts } from './namespace-attempts.js';
import { PendingSessions, type EngineSession } from './pending-sessions.js';
import {
  CLOSE_GRACE_MS,
  SocketIoConnection,
  budgetSession,
  type FloodedSession,
  type SocketIoClient,
  type SocketIoConnectionHost,
} from './socketio-connection.js';
import { NAMESPACES, SocketIoEncoder, type Namespace } from './socketio-encoder.js';
import { FewFragmentsServer } from '../websocket-limits.js';

export interface SocketIoOptions {
  readonly heartbeatMs: number;
  readonly maxInboundBytes: number;
  /** Sessions that have joined no namespace count here until one admits them. */
  readonly pending: PendingBudget;
  /** A session that has joined no namespace by then is closed. */
  readonly authTimeoutMs: number;
}

export const SOCKETIO_PATH = '/socket.io/';
/** The room the replaced service's `/events` clients were joined to. */
export const LISTENER_ROOM = 'code_listeners';

interface Admitted {
  principal: Principal;
  since: number | undefined;
}

/** The error a refused client's `connect_error` carries: `err.data` is our error JSON. */
function refusal(error: unknown): Error & { data: { error: string; message: string } } {
  const mapped = toCodecastError(error);
  const err = new Error(mapped.message) as Error & { data: { error: string; message: string } };
  err.data = { error: mapped.code, message: mapped.message, ...mapped.details };
  return err;
}

function tokenOf(socket: Socket): string | undefined {
  const fromAuth = (socket.handshake.auth as { token?: unknown }).token;
  if (typeof fromAuth === 'string') return fromAuth;
  const fromHeader = bearerFromHeader(socket.handshake.headers.authorization);
  if (fromHeader !== undefined) return fromHeader;
  const query = socket.handshake.query.token;
  return typeof query === 'string' ? query : undefined;
}

/** The `sid` of an engine.io request, if it belongs to a session already open. */
function sessionIdOf(url: string | undefined): string | undefined {
  const mark = url?.indexOf('?') ?? -1;
  if (url === undefined || mark < 0) return undefined;
  return new URLSearchParams(url.slice(mark + 1)).get('sid') ?? undefined;
}

/**
 * Socket.IO on `/socket.io/`, namespaces `/` and `/events`, with the event
 * names the replaced service's clients listen for: `new_code`, `revoke_code`.
 */
export class SocketIoTransport implements Transport {
  readonly name = 'socketio' as const;
  readonly #parts: TransportParts;
  readonly #options: SocketIoOptions;
  // Made at mount, when the HTTP server exists: engine.io attaches to it.
  #io: Server | undefined;
  readonly #sessions: PendingSessions;
  readonly #attempts = new NamespaceAttempts();
  // Made once per transport, not once per connection (see socketio-connection.ts).
  readonly #host: SocketIoConnectionHost;

  constructor(parts: TransportParts, options: SocketIoOptions) {
    this.#parts = parts;
    this.#options = options;
    this.#host = {
      // Packets of any kind each client may send, its namespaces together.
      budget: parts.inboundBudget,
      gone: (connection) => {
        parts.hub.detach(connection);
        this.#attempts.closeIfUnused(connection.client);
      },
      flooded: (session, client) => this.#flooded(session, client),
      ack: (connection, id, reply) => this.#ack(connection, id, reply),
    };
    this.#sessions = new PendingSessions(options.pending, options.authTimeoutMs);
    parts.hub.useEncoder(new SocketIoEncoder());
  }

  async mount(edge: EdgeMount): Promise<void> {
    const options = this.#options;
    const io = new Server(edge.server, {
      path: SOCKETIO_PATH,
      serveClient: false,
      // Other upgrade paths (our WebSocket) are not engine.io's to destroy.
      destroyUpgrade: false,
      pingInterval: options.heartbeatMs,
      pingTimeout: 20_000,
      maxHttpBufferSize: options.maxInboundBytes,
      perMessageDeflate: false,
      wsEngine: FewFragmentsServer,
      httpCompression: false,
      connectionStateRecovery: undefined,
      // Pending sessions are closed by PendingSessions at the auth timeout;
      // socket.io's own timer is only the fallback. Were it first, its
      // orderly close would leave a long-polling session waiting up to 30 s
      // for a poll, and our forced close could no longer cut it short.
      connectTimeout: options.authTimeoutMs * 2,
      // Pages on the allowed origins may poll (engine.io answers their
      // preflights and adds the headers, before #gate); others are refused
      // in #gate. Unset: no CORS headers, as before.
      cors: this.#parts.origins.cors,
    });
    this.#io = io;
    const engine = io.engine;
    engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => this.#gate(io, req, res, next));
    engine.on('connection', (session: EngineSession) => {
      this.#sessions.opened(session);
      budgetSession(session, this.#host);
    });
    engine.on('connection_error', (failure: { req: IncomingMessage }) => this.#sessions.failed(failure.req));
    for (const name of NAMESPACES) this.#serve(io, name);
    edge.delegateUpgrades(SOCKETIO_PATH);
  }

  #serve(io: Server, name: Namespace): void {
    const { hub } = this.#parts;
    const namespace = io.of(name);
    const attempts = this.#attempts;
    namespace.use((socket, next) => {
      const client = socket.client as unknown as SocketIoClient;
      attempts.began(client);
      this.#admit(socket).then(
        () => {
          attempts.decided(client, false);
          next();
        },
        (error: unknown) => {
          next(refusal(error));
          attempts.decided(client, true);
        },
      );
    });
    namespace.on('connection', (socket) => {
      const admitted = (socket.data as { admitted?: Admitted }).admitted as Admitted;
      try {
        // Checked again: another connection may have taken the last place
        // between the middleware and now.
        hub.admit(admitted.principal.user.id);
      } catch (error) {
        socket.emit('closing', { reason: toCodecastError(error).code });
        // This namespace only: the client's other namespace may be fine.
        socket.disconnect();
        attempts.closeIfUnused(socket.client as unknown as SocketIoClient);
        return;
      }
      if (name === '/events') void socket.join(LISTENER_ROOM);
      const connection = new SocketIoConnection(socket.id, admitted.principal, socket, name, this.#host);
      hub.attach(connection, admitted.since);
    });
  }

  /**
   * Closes a session past its budget. A client that a namespace admitted has
   * every namespace closed, each counted under the reason (and its user
   * cools off, through the hub). A session that joined none is only closed:
   * no user is known to cool off, and its pending place is given back when
   * it closes.
   */
  #flooded(session: FloodedSession, client: SocketIoClient | undefined): void {
    const ws = session.transport.socket;
    if (client) {
      const connections: SocketIoConnection[] = [];
      for (const socket of client.sockets.values()) {
        if (socket.data instanceof SocketIoConnection) connections.push(socket.data);
      }
      for (const connection of connections) this.#parts.hub.close(connection, 'too_many_messages');
      // After the DISCONNECT packets, which it sends first; a namespace still
      // authenticating goes with it. Packets that arrive from here on are dropped.
      session.close();
    } else {
      // Nothing to tell it: what engine.io holds for it is discarded, and a
      // WebSocket is cut once its close frame has had time to go out (the
      // peer's answer is not read, below).
      session.close(true);
      if (ws?.terminate) setTimeout(() => ws.terminate?.(), CLOSE_GRACE_MS).unref();
    }
    // What the flooder sends meanwhile is not read: parsing it would be the
    // cost the budget is there to stop (ws's pause holds against its own
    // resume when its receiver drains). What we send still goes out.
    ws?.pause?.();
  }

  #ack(connection: SocketIoConnection, id: unknown, reply: unknown): void {
    const answer = typeof reply === 'function' ? (reply as (result: unknown) => void) : undefined;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      const err = toCodecastError(new CodecastError('invalid_request', 'ack takes the id of a code.'));
      answer?.({ error: err.code, message: err.message });
      return;
    }
    this.#parts.acknowledger.ack(id, connection.principal).then(
      (result) => answer?.(result),
      (error: unknown) => {
        const err = toCodecastError(error);
        answer?.({ error: err.code, message: err.message });
      },
    );
  }

  async #admit(socket: Socket): Promise<void> {
    const since = parseSince((socket.handshake.auth as { since?: unknown }).since, 'auth.since');
    const principal = await this.#parts.admission.authenticate(tokenOf(socket), this.#parts.clientOf(socket.request));
    await this.#parts.hub.catchUpFor(since);
    // Admitted before it leaves the pending budget: a session refused here
    // (a cap, a cool-off) still counts there until it closes — soon after
    // its refusal (NamespaceAttempts), or at its deadline.
    this.#parts.hub.admit(principal.user.id);
    const session = socket.conn as unknown as EngineSession;
    this.#sessions.authenticated(session);
    this.#parts.authenticated(session.transport.socket?._socket);
    (socket.data as { admitted?: Admitted }).admitted = { principal, since };
  }

  /**
   * engine.io's middleware, before it does anything with a request: a
   * handshake takes a place in the pending budget or is refused with our
   * error; a request of an admitted session frees the socket it came on
   * (long-polling requests come on any of the client's sockets).
   */
  #gate(io: Server, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    // Every request, not only handshakes, and before any budget: a page on
    // an origin not allowed gets nothing, over polling or WebSocket. This
    // rather than engine.io's allowRequest, which answers in its own shape.
    const foreign = this.#parts.origins.refusal(req);
    if (foreign) {
      if (req.headers.upgrade !== undefined) writeRawError(req.socket, foreign);
      else this.#answer(res, foreign);
      return;
    }
    const sid = sessionIdOf(req.url);
    if (sid !== undefined) {
      // `clients` is engine.io's documented map of open sessions by id; its
      // type declarations mark it protected.
      const { clients } = io.engine as unknown as { clients: Record<string, EngineSession | undefined> };
      if (this.#sessions.isAuthenticated(clients[sid])) {
        this.#parts.authenticated(req.socket);
      }
      next();
      return;
    }
    const refusal = this.#sessions.handshake(req, this.#parts.clientOf(req));
    if (refusal === undefined) {
      next();
      return;
    }
    if (req.headers.upgrade !== undefined) {
      // engine.io's stand-in response for an upgrade writes nothing.
      refuseSocket(req.socket, refusal);
      return;
    }
    this.#answer(res, refusal);
  }

  /** Answers a refused engine.io request in our error shape (with the CORS headers engine.io set already). */
  #answer(res: ServerResponse, refusal: CodecastError): void {
    const body = JSON.stringify({ error: refusal.code, message: refusal.message });
    res.writeHead(refusal.status, {
      'content-type': 'application/json; charset=utf-8',
      ...(refusal.retryAfterSeconds === undefined ? {} : { 'retry-after': String(refusal.retryAfterSeconds) }),
      connection: 'close',
    });
    res.end(body);
  }

  get pendingSessions(): number {
    return this.#sessions.size;
  }

  /** Closes engine.io's remaining connections; the HTTP server is closed by the HTTP layer. */
  close(): void {
    this.#sessions.close();
    this.#io?.engine.close();
  }
}
