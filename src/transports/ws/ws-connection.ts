import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Principal } from '../../domain/index.js';
import type { CloseReason, Connection } from '../../hub/index.js';
import { CLOSE_FOR_REASON } from './close-codes.js';
import { PING_FRAME, type WsFrame } from './ws-encoder.js';

// A peer that does not answer a close frame is cut after this long.
const CLOSE_GRACE_MS = 2000;

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
  #lastSignOfLife = Date.now();
  #invalidFrames = 0;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    onGone: (connection: WsConnection) => void,
  ) {
    socket.on('drain', () => {
      this.#backlog = 0;
    });
    const alive = () => {
      this.#lastSignOfLife = Date.now();
    };
    ws.on('pong', alive);
    ws.on('message', alive);
    ws.on('close', () => {
      this.#closed = true;
      onGone(this);
    });
  }

  send(frame: WsFrame): void {
    if (this.#closed) return;
    if (this.socket.writableNeedDrain) this.#backlog++;
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
