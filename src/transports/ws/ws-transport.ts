import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { CodecastError, type Principal } from '../../domain/index.js';
import type { Acknowledger, Hub } from '../../hub/index.js';
import { toCodecastError } from '../../http/errors.js';
import type { Authenticator } from '../../users/index.js';
import { closeCodeForError } from './close-codes.js';
import { WsConnection } from './ws-connection.js';
import { WsEncoder } from './ws-encoder.js';

export interface WsTransportOptions {
  readonly hub: Hub;
  readonly authenticator: Authenticator;
  readonly acknowledger: Acknowledger;
  /** Largest frame a client may send; ws closes with 1009 past it. */
  readonly maxInboundBytes: number;
}

export const WS_PATH = '/api/v1/ws';

interface Admission {
  readonly principal: Principal;
  readonly since: number | undefined;
}

function errorFrame(error: CodecastError): string {
  return JSON.stringify({ type: 'error', data: { error: error.code, message: error.message, ...error.details } });
}

function tokenOf(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new CodecastError('unauthorized', 'The Authorization header must be "Bearer <token>".');
    return match[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

function sinceOf(url: URL): number | undefined {
  const text = url.searchParams.get('since');
  if (text === null || text === '') return undefined;
  if (!/^\d{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER) {
    throw new CodecastError('invalid_request', 'since must be the id of a code: a whole number.');
  }
  return Number(text);
}

/**
 * The plain WebSocket transport at `GET /api/v1/ws`. The handshake is always
 * completed so that a refusal (bad token, caps) reaches even a browser as a
 * close code and reason, which the browser's WebSocket API exposes while it
 * hides HTTP statuses.
 */
export class WsTransport {
  readonly #server: WebSocketServer;

  constructor(private readonly options: WsTransportOptions) {
    this.#server = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxInboundBytes,
      // Compression would make every frame per-client work; codes are small.
      perMessageDeflate: false,
      clientTracking: false,
    });
    options.hub.useEncoder(new WsEncoder());
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    void this.#admit(request).then((admission) => {
      if (socket.destroyed) return;
      this.#server.handleUpgrade(request, socket, head, (ws) => this.#open(ws, socket, admission));
    });
  }

  async #admit(request: IncomingMessage): Promise<Admission | CodecastError> {
    try {
      const url = new URL(request.url ?? '/', 'http://codecast');
      const since = sinceOf(url);
      const principal = await this.options.authenticator.authenticate(tokenOf(request, url), request.socket.remoteAddress ?? '');
      return { principal, since };
    } catch (error) {
      return toCodecastError(error);
    }
  }

  #open(ws: WebSocket, socket: Duplex, admission: Admission | CodecastError): void {
    const { hub } = this.options;
    if (admission instanceof CodecastError) {
      ws.close(closeCodeForError(admission.code), admission.code);
      return;
    }
    try {
      hub.admit(admission.principal.user.id);
    } catch (error) {
      const refusal = toCodecastError(error);
      ws.close(closeCodeForError(refusal.code), refusal.code);
      return;
    }
    const connection = new WsConnection(randomUUID(), admission.principal, ws, socket, (c) => hub.detach(c));
    ws.on('message', (data, isBinary) => this.#onMessage(connection, data, isBinary));
    ws.on('error', () => undefined); // ws closes the connection itself; 'close' follows.
    hub.attach(connection, admission.since);
  }

  #onMessage(connection: WsConnection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.options.hub.close(connection, 'protocol_error');
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      connection.sendText(errorFrame(new CodecastError('invalid_request', 'A frame must be a JSON object.')));
      return;
    }
    const { type, id } = (typeof message === 'object' && message !== null ? message : {}) as { type?: unknown; id?: unknown };
    if (type !== 'ack') {
      connection.sendText(errorFrame(new CodecastError('invalid_request', 'The only frame a client sends is {"type":"ack","id":N}.')));
      return;
    }
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      connection.sendText(errorFrame(new CodecastError('invalid_request', 'An ack needs "id": the id of a code.')));
      return;
    }
    this.options.acknowledger.ack(id, connection.principal).catch((error: unknown) => {
      connection.sendText(errorFrame(toCodecastError(error)));
    });
  }

  close(): void {
    this.#server.close();
  }
}
