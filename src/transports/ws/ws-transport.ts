import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData } from 'ws';
import { CodecastError, bearerFromHeader, parseSince, type Principal } from '../../domain/index.js';
import {
  releaseUpgradeSocket,
  toCodecastError,
  writeRawError,
  type EdgeMount,
  type Transport,
  type TransportParts,
} from '../../edge/index.js';
import { newConnectionId } from '../../hub/index.js';
import { closeCodeForError } from './close-codes.js';
import { OwnedWebSocket, WsConnection, type WsConnectionHost } from './ws-connection.js';
import { WsEncoder } from './ws-encoder.js';
import { MAX_FRAGMENTS } from '../websocket-limits.js';

export interface WsOptions {
  /** Largest frame a client may send; ws closes with 1009 past it. */
  readonly maxInboundBytes: number;
}

export const WS_PATH = '/api/v1/ws';

const REFUSAL_GRACE_MS = 2000;
/** Invalid frames a client may send before it is closed as speaking another protocol. */
const INVALID_FRAMES_ALLOWED = 50;

interface Admission {
  readonly principal: Principal;
  readonly since: number | undefined;
}

function errorFrame(error: CodecastError): string {
  return JSON.stringify({ type: 'error', data: { error: error.code, message: error.message, ...error.details } });
}

function tokenOf(request: IncomingMessage, url: URL): string | undefined {
  return bearerFromHeader(request.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
}

/**
 * The plain WebSocket transport at `GET /api/v1/ws`. The handshake is always
 * completed so that a refusal (bad token, caps) reaches even a browser as a
 * close code and reason, which the browser's WebSocket API exposes while it
 * hides HTTP statuses.
 */
export class WsTransport implements Transport {
  readonly name = 'ws' as const;
  readonly #server: WebSocketServer;
  // Made once per transport, not once per connection (see ws-connection.ts).
  readonly #host: WsConnectionHost;
  readonly #parts: TransportParts;

  constructor(parts: TransportParts, options: WsOptions) {
    this.#parts = parts;
    this.#server = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxInboundBytes,
      maxFragments: MAX_FRAGMENTS,
      // Compression would make every frame per-client work; codes are small.
      perMessageDeflate: false,
      clientTracking: false,
      // Pings are answered by the connection, within its inbound budget.
      autoPong: false,
      WebSocket: OwnedWebSocket,
    });
    // ws's own handshake refusals (another method, no key, a version it
    // does not speak) would answer in text/html; ours follow the contract.
    this.#server.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
      if (request.method !== 'GET') {
        writeRawError(socket, new CodecastError('not_found', `No route for ${request.method} ${WS_PATH}.`));
        return;
      }
      const version = /Version/.test(error.message) ? { 'Sec-WebSocket-Version': '13' } : undefined;
      writeRawError(socket, new CodecastError('invalid_request', `Not a WebSocket handshake: ${error.message}.`), version);
    });
    parts.hub.useEncoder(new WsEncoder());
    this.#host = {
      budget: parts.inboundBudget,
      received: (connection, data, isBinary) => this.#onMessage(connection, data, isBinary),
      flooded: (connection) => parts.hub.close(connection, 'too_many_messages'),
      gone: (connection) => parts.hub.detach(connection),
    };
  }

  async mount(edge: EdgeMount): Promise<void> {
    edge.upgrade(WS_PATH, (request, socket, head) => this.handleUpgrade(request, socket, head));
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A page on an origin not allowed is refused before the upgrade, with
    // no token looked up: without this any site could open a subscriber's
    // stream with a token it got hold of (a browser sends Origin on every
    // WebSocket, and WebSocket has no CORS to stop it).
    const foreign = this.#parts.origins.refusal(request);
    if (foreign) {
      writeRawError(socket, foreign);
      return;
    }
    void this.#admit(request).then((admission) => {
      if (socket.destroyed) return;
      this.#server.handleUpgrade(request, socket, head, (ws) => this.#open(ws as OwnedWebSocket, socket, admission));
    });
  }

  async #admit(request: IncomingMessage): Promise<Admission | CodecastError> {
    try {
      const url = new URL(request.url ?? '/', 'http://codecast');
      const since = parseSince(url.searchParams.get('since'));
      const principal = await this.#parts.admission.authenticate(tokenOf(request, url), this.#parts.clientOf(request));
      await this.#parts.hub.catchUpFor(since);
      return { principal, since };
    } catch (error) {
      return toCodecastError(error);
    }
  }

  #open(ws: OwnedWebSocket, socket: Duplex, admission: Admission | CodecastError): void {
    const { hub } = this.#parts;
    // ws has its own error handling on the socket now.
    releaseUpgradeSocket(socket);
    if (admission instanceof CodecastError) {
      this.#refuse(ws, socket, admission);
      return;
    }
    try {
      hub.admit(admission.principal.user.id);
    } catch (error) {
      this.#refuse(ws, socket, toCodecastError(error));
      return;
    }
    const connection = new WsConnection(newConnectionId(), admission.principal, ws, socket, this.#host);
    hub.attach(connection, admission.since);
    this.#parts.authenticated(socket);
  }

  /**
   * Says why in a close frame and ends the connection behind it. Nothing a
   * refused client sends is read: a flooder cooling off would otherwise
   * reconnect and pour its flood into each refused connection until it is
   * cut (ws resumes a merely paused socket; its own pause holds).
   */
  #refuse(ws: OwnedWebSocket, socket: Duplex, refusal: CodecastError): void {
    ws.close(closeCodeForError(refusal.code), refusal.code);
    ws.pause();
    // Ended, not destroyed: a reset would make the peer's kernel drop the
    // close frame with the rest (the flood we leave unread), and the peer
    // would learn only 1006. Unread, its bytes stop at our receive window.
    socket.end();
    setTimeout(() => ws.terminate(), REFUSAL_GRACE_MS).unref();
  }

  #onMessage(connection: WsConnection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#parts.hub.close(connection, 'protocol_error');
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      this.#reject(connection, new CodecastError('invalid_request', 'A frame must be a JSON object.'));
      return;
    }
    const { type, id } = (typeof message === 'object' && message !== null ? message : {}) as { type?: unknown; id?: unknown };
    if (type !== 'ack') {
      this.#reject(connection, new CodecastError('invalid_request', 'The only frame a client sends is {"type":"ack","id":N}.'));
      return;
    }
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      this.#reject(connection, new CodecastError('invalid_request', 'An ack needs "id": the id of a code.'));
      return;
    }
    this.#parts.acknowledger.ack(id, connection.principal).catch((error: unknown) => {
      const refusal = toCodecastError(error);
      if (refusal.code === 'code_not_found') this.#reject(connection, refusal);
      else this.#reply(connection, refusal);
    });
  }

  /**
   * Answers an invalid frame with an error frame; a client that keeps
   * sending them speaks another protocol and is closed.
   */
  #reject(connection: WsConnection, error: CodecastError): void {
    if (connection.noteInvalidFrame() > INVALID_FRAMES_ALLOWED) {
      this.#parts.hub.close(connection, 'protocol_error');
      return;
    }
    this.#reply(connection, error);
  }

  #reply(connection: WsConnection, error: CodecastError): void {
    if (!connection.reply(errorFrame(error))) this.#parts.hub.close(connection, 'slow_consumer');
  }

  close(): void {
    this.#server.close();
  }
}
