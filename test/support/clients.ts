// One subscriber face over the three transports, so a contract test can run
// the same scenario over SSE (fetch), WebSocket (ws) and Socket.IO
// (socket.io-client). Nothing here reconnects by itself: a test reconnects
// explicitly with `since: subscriber.lastId`.
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { SseReader, waitFor } from './sse.js';

export type TransportKind = 'sse' | 'ws' | 'socketio';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['sse', 'ws', 'socketio'];

/** Our generic event names, whatever the transport calls them on the wire. */
export type EventName = 'hello' | 'reset' | 'code' | 'revoke' | 'ping' | 'shutdown' | 'closing' | 'error';

export interface SubscriberEvent {
  readonly type: EventName;
  readonly data: any;
}

export interface ConnectOptions {
  /** Left out: no token at all. */
  readonly token?: string;
  readonly since?: number;
  /** Socket.IO only: '/' (default) or '/events'. */
  readonly namespace?: '/' | '/events';
  /** Socket.IO only: the engine.io transports to use (default: polling, then upgrade to websocket). */
  readonly engineTransports?: readonly ('polling' | 'websocket')[];
}

export type SubscriberStatus = 'connecting' | 'open' | 'refused' | 'closed';

export interface Subscriber {
  readonly transport: TransportKind;
  /** Every received code object, in arrival order (replayed and live). */
  readonly codes: any[];
  /** Every event but heartbeats, in arrival order, by generic name. */
  readonly events: SubscriberEvent[];
  /** 'open' once hello arrived; 'refused' when turned away before hello; 'closed' when it ended after. */
  readonly status: SubscriberStatus;
  /** The machine error code of a refusal (HTTP JSON error, ws close reason, connect_error data.error). */
  readonly refusal: string | undefined;
  /** How it ended: the HTTP status (SSE refusal), ws close code, Socket.IO disconnect reason. */
  readonly closeInfo: { code?: number; reason?: string } | undefined;
  /** The id of the newest code received, for an explicit reconnect. */
  readonly lastId: number | undefined;
  readonly codeIds: number[];
  /** Acknowledges a code: HTTP POST (SSE), ack frame (ws: no answer, undefined), Socket.IO emit with callback. */
  ack(id: number): Promise<any>;
  of(type: EventName): SubscriberEvent[];
  waitForCodes(count: number, timeoutMs?: number): Promise<void>;
  waitForEvent(type: EventName, count?: number, timeoutMs?: number): Promise<void>;
  /** Waits until it is refused or closed. */
  waitForEnd(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The shared part; each transport's adapter feeds it `record` and `ended`. */
class Base {
  readonly codes: any[] = [];
  readonly events: SubscriberEvent[] = [];
  status: SubscriberStatus = 'connecting';
  refusal: string | undefined;
  closeInfo: { code?: number; reason?: string } | undefined;

  constructor(readonly transport: TransportKind) {}

  protected record(type: EventName, data: any): void {
    if (type === 'ping') return;
    this.events.push({ type, data });
    if (type === 'hello' && this.status === 'connecting') this.status = 'open';
    if (type === 'code') this.codes.push(data);
  }

  /** The connection ended; before hello that is a refusal. */
  protected ended(refusal: string | undefined, info: { code?: number; reason?: string }): void {
    if (this.status === 'refused' || this.status === 'closed') return;
    this.closeInfo = info;
    if (this.status === 'connecting') {
      this.status = 'refused';
      this.refusal = refusal;
    } else {
      this.status = 'closed';
    }
  }

  get lastId(): number | undefined {
    return this.codes.at(-1)?.id;
  }

  get codeIds(): number[] {
    return this.codes.map((c) => c.id as number);
  }

  of(type: EventName): SubscriberEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  waitForCodes(count: number, timeoutMs = 5000): Promise<void> {
    return waitFor(() => this.codes.length >= count, `${count} code(s) over ${this.transport} (have ${this.codes.length})`, timeoutMs);
  }

  waitForEvent(type: EventName, count = 1, timeoutMs = 5000): Promise<void> {
    return waitFor(() => this.of(type).length >= count, `${count} "${type}" event(s) over ${this.transport}`, timeoutMs);
  }

  waitForEnd(timeoutMs = 5000): Promise<void> {
    return waitFor(() => this.status === 'refused' || this.status === 'closed', `${this.transport} connection to end`, timeoutMs);
  }
}

class SseSubscriber extends Base implements Subscriber {
  #reader: SseReader | undefined;
  #seen = 0;

  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
  ) {
    super('sse');
  }

  async open(since: number | undefined): Promise<void> {
    const options: { token?: string; since?: number } = {};
    if (this.token !== undefined) options.token = this.token;
    if (since !== undefined) options.since = since;
    this.#reader = await SseReader.open(this.url, options);
    if (this.#reader.status !== 200) {
      this.ended(this.#reader.events[0]?.data?.error, { code: this.#reader.status });
      return;
    }
    // SseReader parses frames in the background; mirror them as they come.
    const pump = setInterval(() => this.#sync(), 5);
    void waitFor(() => this.#reader?.ended === true, 'end', 24 * 3_600_000).then(() => {
      clearInterval(pump);
      this.#sync();
      this.ended(undefined, { reason: 'stream ended' });
    });
  }

  #sync(): void {
    const events = this.#reader?.events ?? [];
    for (; this.#seen < events.length; this.#seen++) {
      const event = events[this.#seen];
      if (event) this.record(event.event as EventName, event.data);
    }
  }

  async ack(id: number): Promise<any> {
    const res = await fetch(`${this.url}/api/v1/codes/${id}/ack`, { method: 'POST', headers: { authorization: `Bearer ${this.token}` } });
    return res.json();
  }

  async close(): Promise<void> {
    this.#reader?.close();
    if (this.#reader) await waitFor(() => this.status !== 'open' && this.status !== 'connecting', 'SSE close');
  }
}

class WsSubscriber extends Base implements Subscriber {
  #ws: WebSocket | undefined;

  constructor() {
    super('ws');
  }

  open(url: string, token: string | undefined, since: number | undefined): void {
    const params = new URLSearchParams();
    if (token !== undefined) params.set('token', token);
    if (since !== undefined) params.set('since', String(since));
    const qs = params.toString();
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws${qs ? `?${qs}` : ''}`);
    this.#ws = ws;
    ws.on('message', (raw) => {
      const { type, data } = JSON.parse(raw.toString()) as { type: EventName; data: unknown };
      this.record(type, data);
    });
    ws.on('close', (code, reason) => this.ended(reason.toString(), { code, reason: reason.toString() }));
    ws.on('error', () => undefined); // 'close' always follows, with the code.
  }

  async ack(id: number): Promise<undefined> {
    this.#ws?.send(JSON.stringify({ type: 'ack', id }));
    return undefined;
  }

  async close(): Promise<void> {
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    ws.close();
    try {
      await waitFor(() => ws.readyState === WebSocket.CLOSED, 'ws close', 2000);
    } catch {
      ws.terminate();
    }
  }
}

class SocketIoSubscriber extends Base implements Subscriber {
  #socket: Socket | undefined;

  constructor() {
    super('socketio');
  }

  open(
    url: string,
    namespace: string,
    token: string | undefined,
    since: number | undefined,
    transports: readonly ('polling' | 'websocket')[] = ['polling', 'websocket'],
  ): void {
    const socket = io(`${url}${namespace === '/' ? '' : namespace}`, {
      path: '/socket.io/',
      transports: [...transports],
      auth: { ...(token === undefined ? {} : { token }), ...(since === undefined ? {} : { since }) },
      reconnection: false,
      forceNew: true,
    });
    this.#socket = socket;
    socket.on('hello', (data) => this.record('hello', data));
    socket.on('reset', (data) => this.record('reset', data));
    socket.on('new_code', (code) => this.record('code', code));
    socket.on('revoke_code', (id) => this.record('revoke', { id }));
    socket.on('shutdown', (data) => this.record('shutdown', data));
    socket.on('closing', (data) => this.record('closing', data));
    socket.on('connect_error', (err: Error & { data?: { error?: string } }) => {
      this.ended(err.data?.error ?? 'connect_error', { reason: err.message });
    });
    socket.on('disconnect', (reason) => {
      // A socket refused after its middleware passed gets `closing` then a server disconnect.
      const closing = this.of('closing')[0]?.data?.reason;
      this.ended(closing ?? reason, { reason });
    });
  }

  async ack(id: number): Promise<any> {
    if (!this.#socket) throw new Error('not connected');
    return this.#socket.timeout(5000).emitWithAck('ack', id);
  }

  async close(): Promise<void> {
    this.#socket?.disconnect();
    this.ended(undefined, { reason: 'io client disconnect' });
  }
}

/**
 * Connects one subscriber and answers once it is open (hello received),
 * refused, or closed. Never reconnects by itself.
 */
export async function connectSubscriber(transport: TransportKind, url: string, options: ConnectOptions = {}): Promise<Subscriber> {
  let subscriber: SseSubscriber | WsSubscriber | SocketIoSubscriber;
  if (transport === 'sse') {
    const sse = new SseSubscriber(url, options.token);
    subscriber = sse;
    await sse.open(options.since);
  } else if (transport === 'ws') {
    const ws = new WsSubscriber();
    subscriber = ws;
    ws.open(url, options.token, options.since);
  } else {
    const sio = new SocketIoSubscriber();
    subscriber = sio;
    sio.open(url, options.namespace ?? '/', options.token, options.since, options.engineTransports);
  }
  try {
    // Generous: a test opening hundreds at once on a machine that CI keeps busy waits its turn.
    await waitFor(() => subscriber.status !== 'connecting', `${transport} hello or refusal`, 20_000);
  } catch (error) {
    // Not left to connect later, where it would hold a place the test's clean-up waits to see freed.
    await subscriber.close();
    throw error;
  }
  return subscriber;
}
