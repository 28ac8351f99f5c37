import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import type { Principal } from '../../domain/index.js';
import { writesBehind, type CloseReason, type Connection, type InboundBudget } from '../../hub/index.js';
import { CLOSE_FOR_REASON } from './close-codes.js';
import { PING_FRAME, type WsFrame } from './ws-encoder.js';

// A peer that does not answer a close frame is cut after this long.
const CLOSE_GRACE_MS = 2000;

/** What a connection tells its transport; one object per transport, shared by its connections. */
export interface WsConnectionHost {
  /** What every connection may send; past it `flooded` is called once. */
  readonly budget: InboundBudget;
  received(connection: WsConnection, data: RawData, isBinary: boolean): void;
  flooded(connection: WsConnection): void;
  gone(connection: WsConnection): void;
}

/**
 * ws's WebSocket, made by the WebSocketServer through its documented
 * `WebSocket` option, that hands its events straight to its connection
 * instead of keeping listeners: four listeners would cost every socket a
 * property array for its `_events` and a closure each unless shared, and at
 * tens of thousands of connections that is a good part of what one costs.
 * `connection` is a declared field so that it lives inside the object.
 */
export class OwnedWebSocket extends WebSocket {
  connection: WsConnection | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const connection = this.connection;
    switch (event) {
      case 'message':
        if (!connection) break;
        connection.received(args[0] as RawData, args[1] as boolean);
        return true;
      case 'ping':
        // Answered here rather than by ws (autoPong is off): only within the
        // budget, so a ping flood is closed as any other flood is, with a
        // close code that says why. (ws's own guard would cut it without one.)
        if (!connection) break;
        if (connection.spend()) connection.pong(args[0] as Buffer);
        return true;
      case 'pong':
        if (!connection) break;
        connection.spend();
        return true;
      case 'close':
        connection?.ended();
        return super.emit(event, ...args);
      case 'error':
        // A peer's protocol error (a bad frame): ws closes the connection
        // itself. Unheard, an 'error' event would end the process.
        return true;
    }
    return super.emit(event, ...args);
  }
}

/**
 * One plain WebSocket client. Broadcast frames are written, already framed,
 * straight to the socket ws upgraded: the same bytes for every client, no
 * per-client framing or copying. ws itself writes only the frames we ask it
 * for (close) and its automatic pongs, never in the middle of one of ours.
 */
export class WsConnection implements Connection<WsFrame> {
  #backlog = 0;
  #closed = false;
  readonly openedAt = Date.now();
  #lastSignOfLife = this.openedAt;
  #invalidFrames = 0;
  /** The inbound budget's state (see InboundBudget): one number, no object. */
  #inboundFullAt = 0;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly ws: OwnedWebSocket,
    private readonly socket: Duplex,
    private readonly host: WsConnectionHost,
  ) {
    ws.connection = this;
  }

  /** On the prototype, not a field in every connection. */
  get transport(): 'ws' {
    return 'ws';
  }

  /**
   * Anything the peer sent (a message, a ping, a pong): a sign of life, and
   * one message of its budget. False when it is not to be read: the
   * connection is closing, or this message was one too many (the host then
   * closes it).
   */
  spend(): boolean {
    if (this.#closed) return false;
    const now = Date.now();
    this.#lastSignOfLife = now;
    const next = this.host.budget.spend(this.#inboundFullAt, now);
    if (next < 0) {
      this.host.flooded(this);
      return false;
    }
    this.#inboundFullAt = next;
    return true;
  }

  /**
   * Answers a ping, unless the peer is not reading what it is sent: RFC 6455
   * §5.5.3 lets a pong answer only the latest of several pings.
   */
  pong(data: Buffer): void {
    if (!this.socket.writableNeedDrain) this.ws.pong(data);
  }

  /** A message from the peer, read by the transport if within the budget. */
  received(data: RawData, isBinary: boolean): void {
    if (this.spend()) this.host.received(this, data, isBinary);
  }

  ended(): void {
    this.#closed = true;
    this.host.gone(this);
  }

  send(frame: WsFrame): void {
    if (this.#closed) return;
    // The hub's slow-consumer rule counts writes behind a full buffer.
    this.#backlog = writesBehind(this.#backlog, this.socket.writableNeedDrain);
    this.socket.write(frame.bytes);
    if (frame.heartbeat) this.socket.write(PING_FRAME);
  }

  /**
   * Sends a frame only this connection gets (an error reply). False when the
   * peer is not taking what it was sent: replying more would only pile up.
   */
  reply(payload: string): boolean {
    if (this.#closed) return true;
    if (this.socket.writableNeedDrain) return false;
    this.ws.send(payload);
    return true;
  }

  /** Counts an invalid frame from the peer; answers how many so far. */
  noteInvalidFrame(): number {
    return ++this.#invalidFrames;
  }

  startLive(): void {
    this.#backlog = 0;
  }

  get backlog(): number {
    return this.#backlog;
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  lastSignOfLife(): number {
    return this.#lastSignOfLife;
  }

  close(reason: CloseReason, farewell?: WsFrame): void {
    if (this.#closed) return;
    this.#closed = true;
    if (farewell) this.socket.write(farewell.bytes);
    const { code, reason: text } = CLOSE_FOR_REASON[reason];
    this.ws.close(code, text);
    // A flooding peer's messages are not read any more: parsing them would
    // be the very cost the budget is there to stop. Its answer to the close
    // frame goes unread too; the cut below ends it.
    // ws's own pause: it resumes a merely paused socket once its receiver
    // drains, which under a flood is at once. The end right behind the close
    // frame tells the peer at once that nothing more will be read.
    if (reason === 'too_many_messages') {
      this.ws.pause();
      // Ended behind the close frame; not destroyed, which would reset the
      // connection and lose the close frame on the peer's side.
      this.socket.end();
    }
    // A slow or gone peer may never read the close frame, and ws would wait
    // 30 s for its answer; we wait a little, then cut the connection.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}
