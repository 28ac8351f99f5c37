// Clients built by hand on a bare TCP socket, for tests that must control
// exactly what is read and what is answered: a WebSocket client that can
// stop reading (its peer's buffers then fill up as a stalled tab's would)
// and never answers a protocol ping, and an engine.io v4 / Socket.IO v5
// client on top of it that never answers engine.io's heartbeat.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { waitFor } from './sse.js';

/** One complete WebSocket frame received from the server. */
export interface RawWsFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

export const OPCODE = { text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/**
 * A WebSocket client over a bare TCP socket: performs the handshake itself,
 * parses every complete frame the server sends (in arrival order) and never
 * answers anything by itself — not pings, not the server's close frame.
 * `pause()` stops taking bytes from the kernel.
 */
export class RawWsClient {
  readonly frames: RawWsFrame[] = [];
  status = 0;
  closed = false;
  error: Error | undefined;
  readonly #socket: Socket;
  #head: Buffer | undefined = Buffer.alloc(0);
  #rest = Buffer.alloc(0);

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#take(chunk));
    socket.on('error', (error) => {
      this.error = error;
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Connects to `path` (with its query) and completes the handshake (waits for the HTTP answer). */
  static async open(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<RawWsClient> {
    const url = new URL(baseUrl);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawWsClient(socket);
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: ${url.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    await waitFor(() => client.status !== 0 || client.closed, `the handshake answer for ${path}`);
    return client;
  }

  #take(chunk: Buffer): void {
    if (this.#head !== undefined) {
      const all = Buffer.concat([this.#head, chunk]);
      const cut = all.indexOf('\r\n\r\n');
      if (cut < 0) {
        this.#head = all;
        return;
      }
      const match = /^HTTP\/1\.1 (\d{3})/.exec(all.subarray(0, cut).toString('latin1'));
      this.status = match ? Number(match[1]) : -1;
      this.#head = undefined;
      chunk = all.subarray(cut + 4);
    }
    let buffer = this.#rest.length === 0 ? chunk : Buffer.concat([this.#rest, chunk]);
    for (;;) {
      if (buffer.length < 2) break;
      const first = buffer[0] as number;
      const second = buffer[1] as number;
      let length = second & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (second & 0x80) !== 0;
      const mask = masked ? buffer.subarray(at, at + 4) : undefined;
      if (masked) at += 4;
      if (buffer.length < at + length) break;
      const payload = Buffer.from(buffer.subarray(at, at + length));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
      this.frames.push({ opcode: first & 0x0f, payload });
      buffer = buffer.subarray(at + length);
    }
    this.#rest = Buffer.from(buffer);
  }

  /** The text frames received so far, as strings. */
  texts(): string[] {
    return this.frames.filter((f) => f.opcode === OPCODE.text).map((f) => f.payload.toString('utf8'));
  }

  /** The server's close frame, once received: its code and reason. */
  closeFrame(): { code: number; reason: string } | undefined {
    const frame = this.frames.find((f) => f.opcode === OPCODE.close);
    if (!frame) return undefined;
    return { code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005, reason: frame.payload.subarray(2).toString('utf8') };
  }

  /** Sends one masked frame (clients always mask, RFC 6455 §5.3). */
  send(data: string | Buffer, opcode: number = OPCODE.text): void {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    let header: Buffer;
    if (payload.length < 126) {
      header = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
    } else if (payload.length < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 0x80 | 126;
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    const mask = randomBytes(4);
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++) masked[i] = (masked[i] as number) ^ (mask[i % 4] as number);
    this.#socket.write(Buffer.concat([header, mask, masked]));
  }

  /** Stops reading: from here on the kernel buffers between server and client fill up. */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  async waitForClose(timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.closed, 'the raw WebSocket to close', timeoutMs);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** Parses our WebSocket JSON envelopes out of a raw client's text frames. */
export function envelopes(client: RawWsClient): { type: string; data: any }[] {
  return client.texts().map((text) => JSON.parse(text) as { type: string; data: any });
}

/**
 * A Socket.IO client spoken by hand over a RawWsClient (engine.io v4 over
 * WebSocket, Socket.IO protocol v5): it connects one namespace and then
 * answers nothing — in particular not engine.io's pings ("2" → "3").
 */
export class RawSocketIoClient {
  private constructor(readonly ws: RawWsClient) {}

  static async open(baseUrl: string, auth: Record<string, unknown>, namespace = '/'): Promise<RawSocketIoClient> {
    const ws = await RawWsClient.open(baseUrl, '/socket.io/?EIO=4&transport=websocket');
    if (ws.status !== 101) throw new Error(`engine.io handshake answered ${ws.status}`);
    const client = new RawSocketIoClient(ws);
    await waitFor(() => ws.texts().some((t) => t.startsWith('0{')), 'the engine.io open packet');
    const nsp = namespace === '/' ? '' : `${namespace},`;
    ws.send(`40${nsp}${JSON.stringify(auth)}`);
    return client;
  }

  /** The engine.io packets received so far (text frames). */
  packets(): string[] {
    return this.ws.texts();
  }

  /** The Socket.IO events received so far in the namespace '/', as [name, ...args]. */
  events(): unknown[][] {
    return this.packets()
      .filter((p) => p.startsWith('42['))
      .map((p) => JSON.parse(p.slice(2)) as unknown[]);
  }

  /** Whether the namespace connect was accepted ("40{sid}") or refused ("44{…}"). */
  connectAnswer(): 'connected' | 'refused' | undefined {
    for (const p of this.packets()) {
      if (p.startsWith('40{')) return 'connected';
      if (p.startsWith('44')) return 'refused';
    }
    return undefined;
  }

  destroy(): void {
    this.ws.destroy();
  }
}

/** Waits for a `ws` client to open; rejects on error or early close. */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.OPEN) return resolve();
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('close', (code, reason) => reject(new Error(`closed before open: ${code} ${reason.toString()}`)));
  });
}

/** A `ws` client that records every envelope and how it closed. */
export class WsRecorder {
  readonly messages: { type: string; data: any }[] = [];
  readonly raw: (string | Buffer)[] = [];
  close: { code: number; reason: string } | undefined;
  pings = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? undefined : data.toString();
      this.raw.push(text ?? (data as Buffer));
      if (text !== undefined) this.messages.push(JSON.parse(text) as { type: string; data: any });
    });
    ws.on('ping', () => {
      this.pings++;
    });
    ws.on('close', (code, reason) => {
      this.close = { code, reason: reason.toString() };
    });
    ws.on('error', () => undefined); // the close that follows is what tests look at
  }

  static async open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WsRecorder> {
    const recorder = new WsRecorder(new WebSocket(url, options));
    await opened(recorder.ws);
    return recorder;
  }

  of(type: string): any[] {
    return this.messages.filter((m) => m.type === type).map((m) => m.data);
  }

  codeIds(): number[] {
    return this.of('code').map((c: { id: number }) => c.id);
  }

  async waitFor(type: string, count = 1, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.of(type).length >= count, `${count} ${type} message(s)`, timeoutMs);
  }

  async waitForClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.close !== undefined, 'the WebSocket to close', timeoutMs);
    return this.close as { code: number; reason: string };
  }

  /** Closes (or cuts) the client if it is still open. */
  end(): void {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
  }
}

/** Polls an async check until it holds. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** An HTTP answer read off a bare socket. */
export interface RawHttpAnswer {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** Writes `request` as is on a fresh socket to the server at `baseUrl` and reads the answer until the server closes. */
export function rawHttp(baseUrl: string, request: string | Buffer): Promise<RawHttpAnswer> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = new Map(
        headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

/**
 * Opens a `ws` WebSocket and answers how its handshake ended: `open` (then
 * closed at once), or the status and body of the HTTP answer that refused it.
 */
export function upgradeOutcome(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<{ readonly open: true } | { readonly open: false; readonly status: number; readonly body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => {
      ws.terminate();
      resolve({ open: true });
    });
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ open: false, status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    ws.once('error', reject);
  });
}
