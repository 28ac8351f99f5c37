import type { Duplex } from 'node:stream';
import type { Socket } from 'socket.io';
import type { Principal } from '../../domain/index.js';
import { writesBehind, type CloseReason, type Connection, type InboundBudget } from '../../hub/index.js';
import type { Namespace, SocketIoFrame } from './socketio-encoder.js';

/**
 * The slice of engine.io's Socket we use. Its types hide `writeBuffer`, the
 * pre-encoded write options that socket.io-adapter itself relies on, and
 * the transport's ws WebSocket with the TCP socket under it (ws's `_socket`).
 */
interface EngineSocket {
  write(packet: string | Buffer, options: object): unknown;
  readonly writeBuffer: readonly unknown[];
  readonly readyState: string;
  readonly upgrading: boolean;
  readonly transport: {
    readonly name: string;
    readonly socket?: {
      readonly bufferedAmount?: number;
      readonly readyState?: number;
      readonly _socket?: Duplex;
      pause?(): void;
      terminate?(): void;
    };
  };
  close(discard?: boolean): void;
  on(event: 'packet', listener: (this: EngineSocket) => void): unknown;
  /** When the client last sent anything, kept by `onPacket` (ours, not engine.io's). */
  [LAST_PACKET_AT]?: number;
  /** The client's inbound budget state (see InboundBudget); -1 once it has flooded. */
  [INBOUND_FULL_AT]?: number;
  /** The transport's host and the socket.io client on this engine socket, for `onPacket`. */
  [HOST]?: SocketIoConnectionHost;
  [CLIENT]?: SocketIoClient;
}

/** The slice of socket.io's Client we use: its namespace sockets (private in its types). */
export interface SocketIoClient {
  readonly sockets: ReadonlyMap<string, Socket>;
  /** The engine.io socket under every namespace of the client. */
  readonly conn: {
    close(discard?: boolean): void;
    /** Packets not yet handed to the transport; 'drain' once they are. */
    readonly writeBuffer: readonly unknown[];
    once(event: 'drain', listener: () => void): unknown;
    readonly transport: { readonly socket?: { terminate?(): void } };
  };
}

/** The slice of an engine.io session that a flood's answer needs. */
export interface FloodedSession {
  close(discard?: boolean): void;
  readonly transport: { readonly socket?: { pause?(): void; terminate?(): void } };
}

/** What a connection tells its transport; one object per transport, shared by its connections. */
export interface SocketIoConnectionHost {
  /**
   * What every engine.io session may send from its handshake on, all its
   * namespaces together; past it `flooded` is called once, with the
   * socket.io client if a namespace has admitted it.
   */
  readonly budget: InboundBudget;
  gone(connection: SocketIoConnection): void;
  flooded(session: FloodedSession, client: SocketIoClient | undefined): void;
  ack(connection: SocketIoConnection, id: unknown, reply: unknown): void;
}

const LAST_PACKET_AT = Symbol('codecast.lastPacketAt');
const INBOUND_FULL_AT = Symbol('codecast.inboundFullAt');
const HOST = Symbol('codecast.host');
const CLIENT = Symbol('codecast.client');

// Module-level handlers found through `this` (socket.io's `socket.data` holds
// the connection): closures per connection cost memory at tens of thousands.
// Any packet from the client — events, acks, engine.io's pongs and noops, over
// WebSocket or in a polling POST — shows it is alive and spends one message
// of its inbound budget. The engine socket is shared by the client's
// namespaces, so both are kept on it, by one listener that lives as long as
// it does: from the handshake, since a session that joins no namespace may
// send until the auth timeout (issue 9). engine.io emits 'packet' before it
// acts on the packet, and drops every packet once the socket is closing.
function onPacket(this: EngineSocket): void {
  const now = Date.now();
  this[LAST_PACKET_AT] = now;
  const fullAt = this[INBOUND_FULL_AT] ?? 0;
  const host = this[HOST];
  if (fullAt < 0 || !host) return;
  const next = host.budget.spend(fullAt, now);
  if (next >= 0) {
    this[INBOUND_FULL_AT] = next;
    return;
  }
  this[INBOUND_FULL_AT] = -1;
  host.flooded(this, this[CLIENT]);
}

/**
 * Puts an engine.io session under the inbound budget, once: called when
 * engine.io opens it, before any namespace has seen it.
 */
export function budgetSession(session: unknown, host: SocketIoConnectionHost): void {
  const engine = session as EngineSocket;
  if (engine[HOST] !== undefined) return;
  engine[LAST_PACKET_AT] = Date.now();
  engine[INBOUND_FULL_AT] = 0;
  engine[HOST] = host;
  engine.on('packet', onPacket);
}
function onDisconnect(this: Socket): void {
  (this.data as SocketIoConnection | undefined)?.disconnected();
}
function onAck(this: Socket, id: unknown, reply: unknown): void {
  (this.data as SocketIoConnection | undefined)?.acked(id, reply);
}

/** What `subscribed` carries: the replaced service's message (docs/MIGRATING.md). */
const SUBSCRIBED = Object.freeze({ message: 'Subscribed to code events' });
/**
 * The replaced service's `/events` clients emit `subscribe` and wait for
 * `subscribed`. A connection here receives codes from the moment it is
 * admitted, in either namespace, so this only answers: with the event, and
 * with the ack a client asked for by passing a callback. It costs the
 * client one message of its inbound budget, like any packet.
 */
function onSubscribe(this: Socket, ...args: unknown[]): void {
  this.emit('subscribed', SUBSCRIBED);
  const reply = args.at(-1);
  if (typeof reply === 'function') (reply as (answer: unknown) => void)(SUBSCRIBED);
}

const WS_OPEN = 1;
/** A peer that does not answer a close frame is cut after this long. */
export const CLOSE_GRACE_MS = 2000;

/** Reasons after which the client should come back by itself; others withdraw access. */
const RECONNECTABLE: ReadonlySet<CloseReason> = new Set(['slow_consumer', 'stale', 'shutdown', 'error']);

/**
 * One Socket.IO client in one namespace. Broadcast frames go, already
 * encoded, either straight to the TCP socket under a WebSocket transport or
 * through engine.io (`conn.write` with `preEncoded`, as socket.io's own
 * adapter does).
 *
 * Straight to the socket when engine.io holds nothing for this client: its
 * own writes (pings, packets written earlier) have then all been handed to
 * the same socket, so ours land after them, in order, and it has no queue
 * for ours to overtake. Through engine.io, each delivery costs a packet
 * object, five events, a write callback and a drain — about 40 % more CPU
 * per delivery than a plain WebSocket client in the benchmark; straight,
 * it costs what a plain WebSocket client does.
 */
export class SocketIoConnection implements Connection<SocketIoFrame> {
  #closed = false;
  readonly openedAt = Date.now();
  #replayAllowance = 0;
  /** Frames written straight to the socket while its buffer was full, in a row. */
  #directBacklog = 0;
  readonly #engine: EngineSocket;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly socket: Socket,
    private readonly namespace: Namespace,
    private readonly host: SocketIoConnectionHost,
  ) {
    const engine = socket.conn as unknown as EngineSocket;
    this.#engine = engine;
    budgetSession(engine, host);
    // From now on a flood closes the client's namespaces too, each counted.
    engine[CLIENT] ??= socket.client as unknown as SocketIoClient;
    // The connection takes the place of the admission the middleware left there.
    socket.data = this;
    socket.on('disconnect', onDisconnect);
    socket.on('ack', onAck);
    socket.on('subscribe', onSubscribe);
  }

  /** On the prototype, not a field in every connection. */
  get transport(): 'socketio' {
    return 'socketio';
  }

  /** The socket.io client (one engine.io connection) this namespace connection is part of. */
  get client(): SocketIoClient {
    return this.socket.client as unknown as SocketIoClient;
  }

  disconnected(): void {
    this.#closed = true;
    this.host.gone(this);
  }

  acked(id: unknown, reply: unknown): void {
    if (this.#closed) return;
    this.host.ack(this, id, reply);
  }

  send(frame: SocketIoFrame): void {
    if (this.#closed) return;
    if (frame.parts && !(frame.merged && this.#engine.transport.name === 'websocket')) {
      for (const part of frame.parts) this.send(part);
      return;
    }
    const encoded = frame[this.namespace];
    const bytes = encoded.options.wsPreEncodedFrame;
    const socket = bytes ? this.#idleWebSocketStream() : undefined;
    if (socket && bytes) {
      // The hub's slow-consumer rule counts writes behind a full buffer.
      this.#directBacklog = writesBehind(this.#directBacklog, socket.writableNeedDrain);
      for (const chunk of bytes) socket.write(chunk);
      return;
    }
    for (const packet of encoded.packets) this.#engine.write(packet, encoded.options);
  }

  /** The TCP socket under an open WebSocket transport with nothing queued in engine.io, if so. */
  #idleWebSocketStream(): Duplex | undefined {
    const engine = this.#engine;
    if (engine.transport.name !== 'websocket' || engine.upgrading || engine.readyState !== 'open') return undefined;
    if (engine.writeBuffer.length > 0) return undefined;
    const ws = engine.transport.socket;
    // ws's own state too: once it has sent a close frame (answering the
    // client's), nothing may follow it, though engine.io hears of the close
    // only when the socket is gone.
    if (ws?.readyState !== WS_OPEN) return undefined;
    const socket = ws._socket;
    return socket && !socket.destroyed && !socket.writableEnded ? socket : undefined;
  }

  startLive(): void {
    this.#replayAllowance = this.#engine.writeBuffer.length;
    this.#directBacklog = 0;
  }

  /**
   * Packets engine.io holds for this client that the transport has not taken
   * yet, less what is left of the replay (which shrinks as it drains), or
   * the frames written straight to a full socket in a row, whichever is more.
   */
  get backlog(): number {
    const held = this.#engine.writeBuffer.length;
    if (held < this.#replayAllowance) this.#replayAllowance = held;
    return Math.max(held - this.#replayAllowance, this.#directBacklog);
  }

  get bufferedBytes(): number {
    return this.#engine.transport.socket?.bufferedAmount ?? 0;
  }

  lastSignOfLife(): number {
    return this.#engine[LAST_PACKET_AT] ?? this.openedAt;
  }

  close(reason: CloseReason, farewell?: SocketIoFrame): void {
    if (this.#closed) return;
    // Sent before marking closed: `send` drops frames to a closed connection.
    if (farewell) this.send(farewell);
    this.#closed = true;
    this.socket.emit('closing', { reason });
    if (reason === 'too_many_messages') {
      // This namespace only: the client's other namespace is closed by the
      // same flood, through the hub, so that it is counted under this reason
      // too; the transport closes the engine.io connection after both have
      // sent their DISCONNECT packet, which tells the client not to come back.
      this.socket.disconnect();
    } else if (RECONNECTABLE.has(reason)) {
      // Closing the engine.io connection makes the client reconnect by itself
      // (reason "transport close") and recover by replay. A slow or stale
      // peer's buffer would never drain, so it is discarded.
      this.#engine.close(reason !== 'shutdown');
    } else {
      // A server-side disconnect tells the client not to come back.
      this.socket.disconnect(true);
    }
    // Frames written straight to the socket are beyond engine.io's discard,
    // and ws would wait 30 s for a close frame from a peer that is not
    // reading: as for plain WebSocket clients, it gets a little, then is cut.
    const ws = this.#engine.transport.socket;
    if (ws?.terminate) setTimeout(() => ws.terminate?.(), CLOSE_GRACE_MS).unref();
  }
}
