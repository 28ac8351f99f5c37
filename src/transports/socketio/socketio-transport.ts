import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { CodecastError, type Principal } from '../../domain/index.js';
import type { Acknowledger, Hub } from '../../hub/index.js';
import { toCodecastError } from '../../http/errors.js';
import type { Authenticator } from '../../users/index.js';
import { SocketIoConnection } from './socketio-connection.js';
import { NAMESPACES, SocketIoEncoder, type Namespace } from './socketio-encoder.js';

export interface SocketIoTransportOptions {
  readonly hub: Hub;
  readonly authenticator: Authenticator;
  readonly acknowledger: Acknowledger;
  readonly heartbeatMs: number;
  readonly maxInboundBytes: number;
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

function sinceOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new CodecastError('invalid_request', 'auth.since must be the id of a code: a whole number.');
  }
  return n;
}

function tokenOf(socket: Socket): string | undefined {
  const fromAuth = (socket.handshake.auth as { token?: unknown }).token;
  if (typeof fromAuth === 'string') return fromAuth;
  const header = socket.handshake.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match) return match[1];
  const query = socket.handshake.query.token;
  return typeof query === 'string' ? query : undefined;
}

/**
 * Socket.IO on `/socket.io/`, namespaces `/` and `/events`, with the event
 * names the replaced service's clients listen for: `new_code`, `revoke_code`.
 */
export class SocketIoTransport {
  readonly #io: Server;

  constructor(
    httpServer: HttpServer,
    private readonly options: SocketIoTransportOptions,
  ) {
    this.#io = new Server(httpServer, {
      path: SOCKETIO_PATH,
      serveClient: false,
      // Other upgrade paths (our WebSocket) are not engine.io's to destroy.
      destroyUpgrade: false,
      pingInterval: options.heartbeatMs,
      pingTimeout: 20_000,
      maxHttpBufferSize: options.maxInboundBytes,
      perMessageDeflate: false,
      httpCompression: false,
      connectionStateRecovery: undefined,
    });
    options.hub.useEncoder(new SocketIoEncoder());
    for (const name of NAMESPACES) this.#serve(name);
  }

  #serve(name: Namespace): void {
    const { hub, acknowledger } = this.options;
    const namespace = this.#io.of(name);
    namespace.use((socket, next) => {
      this.#admit(socket).then(
        () => next(),
        (error: unknown) => next(refusal(error)),
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
        socket.disconnect(true);
        return;
      }
      if (name === '/events') void socket.join(LISTENER_ROOM);
      const connection = new SocketIoConnection(socket.id, admitted.principal, socket, name, (c) => hub.detach(c));
      socket.on('ack', (id: unknown, reply?: unknown) => {
        const answer = typeof reply === 'function' ? (reply as (result: unknown) => void) : undefined;
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
          const err = toCodecastError(new CodecastError('invalid_request', 'ack takes the id of a code.'));
          answer?.({ error: err.code, message: err.message });
          return;
        }
        acknowledger.ack(id, admitted.principal).then(
          (result) => answer?.(result),
          (error: unknown) => {
            const err = toCodecastError(error);
            answer?.({ error: err.code, message: err.message });
          },
        );
      });
      hub.attach(connection, admitted.since);
    });
  }

  async #admit(socket: Socket): Promise<void> {
    const since = sinceOf((socket.handshake.auth as { since?: unknown }).since);
    const principal = await this.options.authenticator.authenticate(tokenOf(socket), socket.handshake.address);
    this.options.hub.admit(principal.user.id);
    (socket.data as { admitted?: Admitted }).admitted = { principal, since };
  }

  /** Closes engine.io's remaining connections; the HTTP server is closed by the HTTP layer. */
  close(): void {
    this.#io.engine.close();
  }
}
