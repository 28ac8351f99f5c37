import type { Socket } from 'socket.io';
import type { Principal } from '../../domain/index.js';
import type { CloseReason, Connection } from '../../hub/index.js';
import type { Namespace, SocketIoFrame } from './socketio-encoder.js';

/**
 * The slice of engine.io's Socket we use. Its types hide `writeBuffer` and
 * the pre-encoded write options that socket.io-adapter itself relies on.
 */
interface EngineSocket {
  write(packet: string | Buffer, options: object): unknown;
  readonly writeBuffer: readonly unknown[];
  readonly transport: { readonly name: string; readonly socket?: { readonly bufferedAmount?: number } };
  close(discard?: boolean): void;
  on(event: 'packet', listener: () => void): unknown;
  off(event: 'packet', listener: () => void): unknown;
}

/** Reasons after which the client should come back by itself; others withdraw access. */
const RECONNECTABLE: ReadonlySet<CloseReason> = new Set(['slow_consumer', 'stale', 'shutdown', 'error']);

/**
 * One Socket.IO client in one namespace. Frames go to engine.io already
 * encoded (`conn.write` with `preEncoded`), as socket.io's own adapter does.
 */
export class SocketIoConnection implements Connection<SocketIoFrame> {
  readonly transport = 'socketio' as const;
  #closed = false;
  readonly openedAt = Date.now();
  #lastSignOfLife = Date.now();
  #replayAllowance = 0;
  readonly #engine: EngineSocket;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly socket: Socket,
    private readonly namespace: Namespace,
    onGone: (connection: SocketIoConnection) => void,
  ) {
    this.#engine = socket.conn as unknown as EngineSocket;
    // Any packet from the client, engine.io's pongs included, shows it is
    // alive. The engine socket is shared by the client's namespaces and
    // outlives this one, so the listener goes when this namespace does.
    const alive = () => {
      this.#lastSignOfLife = Date.now();
    };
    this.#engine.on('packet', alive);
    socket.on('disconnect', () => {
      this.#engine.off('packet', alive);
      this.#closed = true;
      onGone(this);
    });
  }

  send(frame: SocketIoFrame): void {
    if (this.#closed) return;
    if (frame.parts && !(frame.merged && this.#engine.transport.name === 'websocket')) {
      for (const part of frame.parts) this.send(part);
      return;
    }
    const encoded = frame[this.namespace];
    for (const packet of encoded.packets) this.#engine.write(packet, encoded.options);
  }

  startLive(): void {
    this.#replayAllowance = this.#engine.writeBuffer.length;
  }

  /**
   * Packets engine.io holds for this client that the transport has not taken
   * yet, less what is left of the replay (which shrinks as it drains).
   */
  get backlog(): number {
    const held = this.#engine.writeBuffer.length;
    if (held < this.#replayAllowance) this.#replayAllowance = held;
    return held - this.#replayAllowance;
  }

  get bufferedBytes(): number {
    return this.#engine.transport.socket?.bufferedAmount ?? 0;
  }

  lastSignOfLife(): number {
    return this.#lastSignOfLife;
  }

  close(reason: CloseReason, farewell?: SocketIoFrame): void {
    if (this.#closed) return;
    // Sent before marking closed: `send` drops frames to a closed connection.
    if (farewell) this.send(farewell);
    this.#closed = true;
    this.socket.emit('closing', { reason });
    if (RECONNECTABLE.has(reason)) {
      // Closing the engine.io connection makes the client reconnect by itself
      // (reason "transport close") and recover by replay. A slow or stale
      // peer's buffer would never drain, so it is discarded.
      this.#engine.close(reason !== 'shutdown');
    } else {
      // A server-side disconnect tells the client not to come back.
      this.socket.disconnect(true);
    }
  }
}
