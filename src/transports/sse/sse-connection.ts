import type { ServerResponse } from 'node:http';
import type { CloseReason, Connection } from '../../hub/index.js';
import type { Principal } from '../../domain/index.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-store, no-transform',
  connection: 'keep-alive',
  // Tells nginx and similar proxies not to buffer the stream.
  'x-accel-buffering': 'no',
} as const;

/** One EventSource client: an HTTP response kept open and written frame by frame. */
export class SseConnection implements Connection<Buffer> {
  readonly transport = 'sse' as const;
  #backlog = 0;
  #closed = false;
  #pongedAt: number | undefined;
  #stuckSince: number | undefined;
  #dispatchedAtLastLook = -1;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly response: ServerResponse,
    onGone: (connection: SseConnection) => void,
  ) {
    response.on('drain', () => {
      this.#backlog = 0;
    });
    response.on('close', () => {
      this.#closed = true;
      onGone(this);
    });
  }

  /** Writes the head and the reconnect hint; the stream is open after this. */
  open(retryMs: number): void {
    const socket = this.response.socket;
    socket?.setNoDelay(true);
    socket?.setKeepAlive(true, 30_000);
    this.response.writeHead(200, SSE_HEADERS);
    this.response.write(`retry: ${retryMs}\n\n`);
  }

  send(frame: Buffer): void {
    if (this.#closed) return;
    // Count frames that land behind a full buffer; the hub closes the
    // connection as a slow consumer when the count passes the queue bound.
    if (this.response.writableNeedDrain) this.#backlog++;
    this.response.write(frame);
  }

  startLive(): void {
    this.#backlog = 0;
  }

  get backlog(): number {
    return this.#backlog;
  }

  get bufferedBytes(): number {
    return this.response.writableLength;
  }

  /**
   * Alive unless bytes have sat unsent with none taken by the peer (a dead
   * peer), or, once the client has ponged, since its last pong. A plain
   * EventSource that never pongs but reads is always alive.
   */
  lastSignOfLife(now: number): number {
    let alive = now;
    const socket = this.response.socket;
    const pending = socket?.writableLength ?? 0;
    if (socket && pending > 0) {
      const dispatched = socket.bytesWritten - pending;
      if (dispatched !== this.#dispatchedAtLastLook || this.#stuckSince === undefined) {
        this.#dispatchedAtLastLook = dispatched;
        this.#stuckSince = now;
      }
      alive = this.#stuckSince;
    } else {
      this.#stuckSince = undefined;
    }
    return this.#pongedAt === undefined ? alive : Math.min(alive, this.#pongedAt);
  }

  /** Records a pong; answers how many ms to wait when it came too soon, else 0. */
  pong(now: number, minIntervalMs: number): number {
    if (this.#pongedAt !== undefined && now - this.#pongedAt < minIntervalMs) {
      return minIntervalMs - (now - this.#pongedAt);
    }
    this.#pongedAt = now;
    return 0;
  }

  close(reason: CloseReason, farewell?: Buffer): void {
    if (this.#closed) return;
    this.#closed = true;
    if (reason === 'slow_consumer' || reason === 'stale') {
      // Its buffer is full or not draining: ending politely would wait forever.
      this.response.destroy();
    } else if (farewell) {
      this.response.end(farewell);
    } else {
      this.response.end();
    }
  }
}
