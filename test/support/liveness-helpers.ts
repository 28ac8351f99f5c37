import { connect, type Socket } from 'node:net';
import { parseSseBlock, waitFor } from './sse.js';

/** One complete SSE frame as a raw client parsed it. */
export interface RawFrame {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: any;
}

/**
 * An SSE client over a bare TCP socket, so that a test decides when (and
 * whether) the bytes are read: `pause()` stops reading from the kernel once
 * Node's small readable buffer is full, so the peer's socket buffers fill up
 * as a stalled browser tab's would. Everything received is kept and parsed
 * only on demand (HTTP head, chunked body, SSE frames), so an incomplete
 * last frame is simply left out.
 */
export class RawSseClient {
  readonly #socket: Socket;
  readonly #chunks: Buffer[] = [];
  #received = 0;
  closed = false;
  error: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#received += chunk.length;
    });
    socket.on('error', (error) => {
      this.error = error;
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Connects and sends `GET /api/v1/stream` with the token in the Authorization header. */
  static async open(baseUrl: string, token: string, options: { since?: number; lastEventId?: number } = {}): Promise<RawSseClient> {
    const url = new URL(baseUrl);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawSseClient(socket);
    const path = `/api/v1/stream${options.since !== undefined ? `?since=${options.since}` : ''}`;
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: ${url.host}`,
      'Accept: text/event-stream',
      `Authorization: Bearer ${token}`,
      ...(options.lastEventId !== undefined ? [`Last-Event-ID: ${options.lastEventId}`] : []),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return client;
  }

  /** Bytes taken from the kernel so far. */
  get received(): number {
    return this.#received;
  }

  /** Stops reading: the kernel buffers between server and client fill up from here on. */
  pause(): void {
    this.#socket.pause();
  }

  /** Reads again (everything the kernel still holds, then the end if the server closed). */
  resume(): void {
    this.#socket.resume();
  }

  async waitForClose(timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.closed, 'the raw SSE socket to close', timeoutMs);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** The status code of the response, or 0 before its head arrived. */
  status(): number {
    const head = this.#split()?.head;
    const match = head === undefined ? null : /^HTTP\/1\.[01] (\d{3})/.exec(head);
    return match ? Number(match[1]) : 0;
  }

  /** Every complete SSE frame (with data) received so far, in order. */
  frames(): RawFrame[] {
    const parts = this.#split();
    if (!parts) return [];
    const body = /\r\ntransfer-encoding:\s*chunked\r\n/i.test(`${parts.head}\r\n`) ? dechunk(parts.body) : parts.body;
    return parseSse(body.toString('utf8'));
  }

  #split(): { head: string; body: Buffer } | undefined {
    const all = Buffer.concat(this.#chunks);
    const cut = all.indexOf('\r\n\r\n');
    if (cut < 0) return undefined;
    return { head: all.subarray(0, cut).toString('latin1'), body: all.subarray(cut + 4) };
  }
}

/** Decodes an HTTP/1.1 chunked body as far as it is complete. */
function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    const start = lineEnd + 2;
    // A chunk cut short by the close still contributes its bytes; parseSse
    // drops the incomplete frame they belong to.
    out.push(body.subarray(start, Math.min(start + size, body.length)));
    if (start + size + 2 > body.length) break;
    at = start + size + 2;
  }
  return Buffer.concat(out);
}

/** Splits text into SSE frames; an unterminated last frame is left out. */
function parseSse(text: string): RawFrame[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // whatever follows the last blank line is incomplete (or empty)
  return blocks.map(parseSseBlock).filter((frame): frame is RawFrame => frame !== undefined);
}

/** A message of `length` characters, distinct per index so frames differ. */
export function filler(index: number, length = 1000): string {
  const head = `filler-${index}-`;
  return head + 'x'.repeat(Math.max(0, length - head.length));
}
