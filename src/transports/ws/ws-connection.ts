import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Principal } from '../../domain/index.js';
import type { CloseReason, Connection } from '../../hub/index.js';
import { CLOSE_FOR_REASON } from './close-codes.js';
import { PING_FRAME, type WsFrame } from './ws-encoder.js';

// A peer that does not answer a close frame is cut after this long.
const CLOSE_GRACE_MS = 2000;

/** Where the WebSocket finds its connection, so one handler serves them all. */
export const OWNER = Symbol('codecast.wsConnection');
type Owned = { [OWNER]?: WsConnection };

// Module-level handlers (as ws itself does in lib/websocket.js): a closure
// per connection per event costs memory at tens of thousands of connections.
function onSignOfLife(this: object): void {
  (this as Owned)[OWNER]?.sawLife();
}
function onClose(this: object): void {
  (this as Owned)[OWNER]?.ended();
}

/**
 * One plain WebSocket client. Broadcast frames are written, already framed,
 * straight to the socket ws upgraded: the same bytes for every client, no
 * per-client framing or copying. ws itself writes only the frames we ask it
 * for (close) and its automatic pongs, never in the middle of one of ours.
 */
export class WsConnection implements Connection<WsFrame> {
  readonly transport = 'ws' as const;
  #backlog = 0;
  #closed = false;
  readonly openedAt = Date.now();
  #lastSignOfLife = this.openedAt;
  #invalidFrames = 0;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly onGone: (connection: WsConnection) => void,
  ) {
    (ws as Owned)[OWNER] = this;
    // Messages are a sign of life too; the transport's handler records it.
    ws.on('pong', onSignOfLife);
    ws.on('close', onClose);
  }

  sawLife(): void {
    this.#lastSignOfLife = Date.now();
  }

  ended(): void {
    this.#closed = true;
    this.onGone(this);
  }

  send(frame: WsFrame): void {
    if (this.#closed) return;
    // Frames written while the buffer is full, in a row: once it has room
    // again the count starts over (no 'drain' listener per connection needed).
    if (this.socket.writableNeedDrain) this.#backlog++;
    else this.#backlog = 0;
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
    // A slow or gone peer may never read the close frame, and ws would wait
    // 30 s for its answer; we wait a little, then cut the connection.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}
