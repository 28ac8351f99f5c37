import type { Socket } from 'node:net';
import type { Principal } from '../../domain/index.js';
import { writesBehind, type CloseReason, type Connection } from '../../hub/index.js';

/**
 * The response head, written by us straight to the socket. The body is
 * delimited by closing the connection (RFC 9112 §6.3) rather than chunked,
 * so every subscriber gets exactly the bytes the encoder built once: no
 * per-subscriber chunk header, no trip through ServerResponse. `headers`
 * are lines the request's hooks asked for (CORS), each ending in CRLF.
 */
function responseHead(retryMs: number, headers: string): string {
  return [
    'HTTP/1.1 200 OK',
    'Content-Type: text/event-stream; charset=utf-8',
    'Cache-Control: no-cache, no-store, no-transform',
    // Tells nginx and similar proxies not to buffer the stream.
    'X-Accel-Buffering: no',
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    `Date: ${new Date().toUTCString()}`,
    headers,
    `retry: ${retryMs}\n\n`,
  ].join('\r\n');
}

/** One EventSource client: a socket kept open and written frame by frame. */
export class SseConnection implements Connection<Buffer> {
  readonly transport = 'sse' as const;
  #backlog = 0;
  #closed = false;
  readonly openedAt = Date.now();
  #pongedAt: number | undefined;
  #stuckSince: number | undefined;
  #dispatchedAtLastLook = -1;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly socket: Socket,
    onGone: (connection: SseConnection) => void,
  ) {
    socket.on('close', () => {
      this.#closed = true;
      onGone(this);
    });
  }

  /**
   * Writes the head, with `headers` (lines ending in CRLF, or ''), and the
   * reconnect hint; the stream is open after this.
   */
  open(retryMs: number, headers = ''): void {
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 30_000);
    this.socket.write(responseHead(retryMs, headers));
  }

  get gone(): boolean {
    return this.socket.destroyed;
  }

  /** False once closed by either side, even before the socket has finished closing. */
  get isOpen(): boolean {
    return !this.#closed && !this.socket.destroyed;
  }

  send(frame: Buffer): void {
    if (this.#closed) return;
    // The hub's slow-consumer rule counts writes behind a full buffer.
    this.#backlog = writesBehind(this.#backlog, this.socket.writableNeedDrain);
    this.socket.write(frame);
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

  /**
   * Alive unless bytes have sat unsent with none taken by the peer (a dead
   * peer), or, once the client has ponged, since its last pong. A plain
   * EventSource that never pongs but reads is always alive.
   */
  lastSignOfLife(now: number): number {
    let alive = now;
    const pending = this.socket.writableLength;
    if (pending > 0) {
      const dispatched = this.socket.bytesWritten - pending;
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
      this.socket.destroy();
    } else if (farewell) {
      this.socket.end(farewell);
    } else {
      this.socket.end();
    }
  }
}
