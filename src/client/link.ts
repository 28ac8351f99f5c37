import type { CodecastClientError } from './client-error.js';

/**
 * One connection to the server, over one transport, from the request to its
 * end; the subscription opens a new one for every attempt. A link never
 * reconnects by itself.
 */
export interface Link {
  /** Sends an acknowledgement over the connection itself; false when it cannot (SSE, or not open). */
  ack(id: number): boolean;
  /** Ends the connection and answers once its resources are released; `ended` is not called after it. */
  close(): Promise<void>;
}

/** What a link tells its subscription. */
export interface LinkEvents {
  /** An event of the protocol (`hello`, `code`, `revoke`, `reset`, `ping`, `shutdown`, `error`) with its parsed data. */
  message(type: string, data: unknown): void;
  /** Something arrived, a heartbeat included: the connection is alive. */
  alive(): void;
  /** The server's reconnect hint (SSE `retry:`). */
  retry(ms: number): void;
  /** The connection ended by itself (not by `close()`); called once. */
  ended(error: CodecastClientError): void;
}

/**
 * The slice of a WebSocket the client uses: the browser's `WebSocket` and
 * the `ws` package's both fit it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the connection without the closing handshake. */
  terminate?(): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
}

/** A WebSocket constructor as browsers have it: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * Opens a WebSocket to `url` with `token`: in its query (browsers), or in a
 * header (Node). An opener that knows better than the close code why the
 * socket is closing tells it to `failed` before the socket's `close`: Node's
 * `ws` reads the HTTP answer refusing the upgrade (a 403, a 503 with
 * Retry-After, which a browser shows only as 1006) and sees a message over
 * its size limit.
 */
export type WebSocketOpener = (url: URL, token: string, failed: (error: CodecastClientError) => void) => WebSocketLike;
