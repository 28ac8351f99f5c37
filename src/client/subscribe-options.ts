import type { BackoffOptions } from './backoff.js';
import type { CodecastClientError } from './client-error.js';
import type { History } from './http-api.js';
import type { WebSocketConstructor } from './link.js';
import type { AckResult, Code, Hello, Reset } from './wire.js';

/**
 * Where a subscription stands:
 * - `connecting`: the first attempt;
 * - `catching-up`: connected, receiving the codes missed while away;
 * - `live`: connected and up to date;
 * - `reconnecting`: waiting before the next attempt, or making it;
 * - `offline`: the browser says the network is gone; it retries when it is back;
 * - `refused`: codecast turned it away for good (its 401, 403 or 400); see `onError`;
 * - `closed`: `close()` was called.
 */
export type ConnectionState = 'connecting' | 'catching-up' | 'live' | 'reconnecting' | 'offline' | 'refused' | 'closed';

export type TransportName = 'sse' | 'websocket';

/** What came with a state change. */
export interface StateDetail {
  /** `reconnecting`: how long until the next attempt. */
  readonly retryInMs?: number;
  /** `reconnecting`, `offline`, `refused`: why the last connection ended. */
  readonly error?: CodecastClientError;
  /** `catching-up`: how many ids the replay spans (an upper bound on the codes missed). */
  readonly missed?: number;
}

/** What `onReset` gets to rebuild its view with. */
export interface ResetTools {
  /** Reads codes after an id over HTTP. */
  readonly history: History;
  /**
   * The newest id this subscription had seen before the reset. Above
   * `reset.lastId`, the server lost codes it had sent (it restarted on an
   * older database); the subscription now resumes from `reset.lastId`.
   */
  readonly seenId: number | undefined;
}

export interface SubscribeOptions {
  /**
   * The server's base URL (`https://codecast.example`, or with the path prefix
   * of a reverse proxy). In a browser it defaults to the page's origin.
   */
  readonly url?: string | URL;
  /** A bearer token of a user or an admin. */
  readonly token: string;
  /**
   * `sse` (the default) sends the token in the Authorization header.
   * `websocket` acks over the connection itself; in a browser the token then
   * goes in the URL's query (browsers cannot set a WebSocket's headers), in
   * Node in the header.
   */
  readonly transport?: TransportName;
  /**
   * Resume after this code id: the server replays every later code it still
   * holds. Left out, the subscription starts with live codes only (and still
   * resumes across its own reconnects).
   */
  readonly since?: number;
  /** A code, replayed or live; each id once, in increasing order. */
  readonly onCode?: (code: Code, info: { readonly replayed: boolean }) => void;
  /** A code was revoked: drop or mark it if it is held. May name a code never seen. */
  readonly onRevoke?: (id: number) => void;
  /**
   * The resume point is beyond what the server holds: codes may have been
   * missed, or (when `reset.lastId` is below the last id seen) the server
   * lost them. Rebuild the view, for example with `history()`.
   */
  readonly onReset?: (reset: Reset, tools: ResetTools) => void;
  /** Every connection's first event. `resumed`: it carried a resume point. */
  readonly onHello?: (hello: Hello, info: { readonly resumed: boolean }) => void;
  readonly onState?: (state: ConnectionState, detail: StateDetail) => void;
  /**
   * A connection attempt failed or a connection ended (`error.final` when the
   * subscription stops because of it), or the server sent an error frame (a
   * refused WebSocket ack).
   */
  readonly onError?: (error: CodecastClientError) => void;
  /** Reconnect delays. */
  readonly reconnect?: BackoffOptions;
  /** How long a connection may take to say `hello`, in ms (at most 600000). @default 15000 */
  readonly connectTimeoutMs?: number;
  /** The fetch to use. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * The WebSocket class, `new WebSocket(url)`, given the token in the query.
   * @default the global WebSocket in a browser; in Node, the `ws` package with the token in a header
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Follow the browser's `online`/`offline` events: drop the connection at
   * once when the network goes, reconnect as soon as it is back.
   * @default true where the environment has them
   */
  readonly watchNetwork?: boolean;
}

/** A running subscription. */
export interface Subscription {
  readonly state: ConnectionState;
  /** The newest code id seen (or, before any code, the server's newest at the first hello): where a reconnect resumes. */
  readonly lastId: number | undefined;
  /** The transport in use. */
  readonly transport: TransportName;
  /**
   * Settles once the subscription has stopped for good: with the refusal
   * after `refused`, with undefined after `close()`.
   */
  readonly done: Promise<CodecastClientError | undefined>;
  /**
   * Acknowledges a code. Over a connected WebSocket it is a frame, with no
   * answer (undefined; a refusal comes to `onError`); otherwise
   * `POST /api/v1/codes/:id/ack`, answering `{id, first, latencyMs}` or
   * throwing a CodecastClientError.
   */
  ack(id: number): Promise<AckResult | undefined>;
  /** Codes after an id, read over HTTP with this subscription's token. */
  readonly history: History;
  /**
   * Reconnects now instead of at the end of the current wait; nothing while
   * connected or after `close()`. Called from `onError` or `onState`, the
   * wait that would have followed is not armed.
   */
  reconnectNow(): void;
  /**
   * Ends the connection, every timer, and the `history()` and `ack()`
   * requests in flight (they reject with the code `closed`); resolves once
   * they are released. May be called from any callback: nothing of the
   * step that called it goes on.
   */
  close(): Promise<void>;
}
