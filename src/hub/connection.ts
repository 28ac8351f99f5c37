import type { Code, Principal, TransportName } from '../domain/index.js';

export type { TransportName };
export const TRANSPORTS: readonly TransportName[] = ['sse', 'ws', 'socketio'];

/** Why a connection ended; transports map each to their own wire (close codes, events). */
export type CloseReason =
  | 'client_closed'
  | 'slow_consumer'
  | 'stale'
  | 'shutdown'
  | 'user_disabled'
  | 'token_revoked'
  | 'protocol_error'
  | 'too_many_messages'
  | 'error';

export const CLOSE_REASONS: readonly CloseReason[] = [
  'client_closed',
  'slow_consumer',
  'stale',
  'shutdown',
  'user_disabled',
  'token_revoked',
  'protocol_error',
  'too_many_messages',
  'error',
];

export interface HelloData {
  readonly connectionId: string;
  readonly lastId: number;
  readonly heartbeatSeconds: number;
}

/** Everything the hub sends; each transport encodes these into its wire format. */
export type HubEvent =
  | { readonly type: 'hello'; readonly data: HelloData }
  | { readonly type: 'code'; readonly data: Code }
  | { readonly type: 'revoke'; readonly data: { readonly id: number } }
  | { readonly type: 'ping'; readonly data: { readonly time: string } }
  | { readonly type: 'reset'; readonly data: { readonly oldestId: number | null; readonly lastId: number } }
  | { readonly type: 'shutdown'; readonly data: { readonly reconnectAfterMs: number } };

/**
 * A transport's encoder: turns a hub event into the bytes (or packet) its
 * connections write. Broadcast events are encoded once per transport.
 */
export interface Encoder<Frame> {
  readonly transport: TransportName;
  /** Null when this transport does not carry the event (Socket.IO has its own heartbeat). */
  encode(event: HubEvent): Frame | null;
  /** Several frames as one, so a connection gets them in a single write. */
  combine(frames: readonly Frame[]): Frame;
}

/**
 * One subscriber connection as the hub sees it. Transports implement it;
 * the hub never learns about sockets, HTTP or framing.
 */
export interface Connection<Frame = unknown> {
  readonly id: string;
  readonly principal: Principal;
  readonly transport: TransportName;
  /** When it opened (ms since epoch), for how long it lived. */
  readonly openedAt: number;
  /** Queues pre-encoded bytes; never throws. */
  send(frame: Frame): void;
  /** Live frames queued in user space that the peer has not yet taken. */
  readonly backlog: number;
  /**
   * Called by the hub once hello and the replay are written: from here on
   * `backlog` counts live frames only. A replay larger than the socket
   * buffers is sent anyway — the queue bound is for live traffic a client
   * cannot keep up with, not for catching up — so its frames must not make
   * the next broadcast close a client that is reading them.
   */
  startLive(): void;
  /** Bytes queued in user space for this connection. */
  readonly bufferedBytes: number;
  /**
   * The last time the peer showed it is alive (ms since epoch), as the sweeper
   * judges it at `now`; what counts as a sign of life is the transport's call.
   */
  lastSignOfLife(now: number): number;
  /**
   * Ends the connection; `farewell`, when given, is written first. Idempotent.
   * The transport calls the hub's `detach` when the connection is gone.
   */
  close(reason: CloseReason, farewell?: Frame): void;
}
