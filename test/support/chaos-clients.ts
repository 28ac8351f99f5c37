// Subscribers that keep going whatever happens to their connection, each
// with the model a real client keeps: the codes it holds, in order, dropped
// on revoke, refetched over HTTP on reset. They reconnect the way their
// libraries do — EventSource by itself with Last-Event-ID, ws by hand with
// ?since=, socket.io-client by itself with auth.since read at each attempt —
// and note every breach of the contract they see.
import { EventSource } from 'eventsource';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';

export type ChaosKind = 'sse' | 'ws' | 'socketio-websocket' | 'socketio-polling';
export const CHAOS_KINDS: readonly ChaosKind[] = ['sse', 'ws', 'socketio-websocket', 'socketio-polling'];

/** How long a hand-made reconnect waits: a client does not hammer a server it just lost. */
const RECONNECT_MS = 50;

/** The model and its checks, whatever the transport. */
abstract class ChaosClient {
  /** Codes held, by id, in the order received. */
  readonly held = new Map<number, unknown>();
  /** Breaches of the contract, as sentences. */
  readonly failures: string[] = [];
  /** Ids received over the stream, ever. */
  readonly #seen = new Set<number>();
  /** The newest id received (or refetched): what the client resumes from. */
  lastId = 0;
  hellos = 0;
  resets = 0;
  revokes = 0;
  protected stopped = false;
  /** Sent away (a laptop closed): no connection until `comeBack`. */
  #away = false;
  #refetching = false;

  constructor(
    readonly name: string,
    /** Where the client connects: the proxy. */
    protected readonly url: string,
    protected readonly token: string,
  ) {}

  protected onHello(): void {
    this.hellos++;
  }

  protected onCode(code: { id: number }): void {
    const id = code.id;
    if (this.#seen.has(id)) this.failures.push(`${this.name}: code ${id} received twice`);
    else if (id <= this.lastId) this.failures.push(`${this.name}: code ${id} after ${this.lastId}`);
    this.#seen.add(id);
    this.lastId = Math.max(this.lastId, id);
    this.held.set(id, code);
  }

  protected onRevoke(id: number): void {
    this.revokes++;
    // Every revoke of a code this client may hold comes after the code.
    if (id > this.lastId) this.failures.push(`${this.name}: revoke ${id} before its code (last ${this.lastId})`);
    this.held.delete(id);
  }

  /** History no longer reaches back to our last id: drop the connection, refetch, resume from what we fetched. */
  protected onReset(): void {
    this.resets++;
    if (this.#refetching) return;
    this.#refetching = true;
    this.disconnect();
    void this.#refetch().then(() => {
      this.#refetching = false;
      if (!this.stopped && !this.#away) this.connect();
    });
  }

  async #refetch(): Promise<void> {
    for (;;) {
      try {
        const codes: { id: number }[] = [];
        for (;;) {
          const since = codes.at(-1)?.id ?? 0;
          const res = await fetch(`${this.url}/api/v1/codes?since=${since}&limit=1000`, {
            headers: { authorization: `Bearer ${this.token}` },
          });
          if (res.status !== 200) throw new Error(`history: ${res.status}`);
          const page = ((await res.json()) as { codes: { id: number }[] }).codes;
          codes.push(...page);
          if (page.length < 1000) break;
        }
        this.held.clear();
        for (const code of codes) this.held.set(code.id, code);
        this.lastId = Math.max(this.lastId, codes.at(-1)?.id ?? 0);
        return;
      } catch {
        // Cut by the proxy too: try again.
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    }
  }

  /** (Re)opens from `lastId`. */
  abstract connect(): void;
  /** Drops the current connection without reconnecting. */
  protected abstract disconnect(): void;

  /** Drops the connection and stays away until `comeBack`, missing what is published meanwhile. */
  goAway(): void {
    this.#away = true;
    this.disconnect();
  }

  comeBack(): void {
    this.#away = false;
    if (!this.stopped && !this.#refetching) this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.disconnect();
  }
}

/** EventSource: reconnects by itself, sending the id of the last code it saw. */
class SseChaosClient extends ChaosClient {
  #source: EventSource | undefined;

  connect(): void {
    const source = new EventSource(`${this.url}/api/v1/stream?token=${encodeURIComponent(this.token)}&since=${this.lastId}`);
    this.#source = source;
    // Events still parsed from a source we have let go (after a reset) are not ours.
    const mine = () => source === this.#source;
    source.addEventListener('hello', () => mine() && this.onHello());
    source.addEventListener('code', (e) => mine() && this.onCode(JSON.parse(e.data)));
    source.addEventListener('revoke', (e) => mine() && this.onRevoke(JSON.parse(e.data).id));
    source.addEventListener('reset', () => mine() && this.onReset());
    source.addEventListener('error', () => {
      // A refusal (an HTTP error status) or a cut response head ends an
      // EventSource for good; a browser app would make a new one.
      if (source.readyState === EventSource.CLOSED && source === this.#source && !this.stopped) {
        setTimeout(() => {
          if (source === this.#source && !this.stopped) this.connect();
        }, RECONNECT_MS);
      }
    });
  }

  protected disconnect(): void {
    const source = this.#source;
    this.#source = undefined;
    source?.close();
  }
}

/** ws: reconnects by hand with ?since= the last id. */
class WsChaosClient extends ChaosClient {
  #ws: WebSocket | undefined;

  connect(): void {
    const ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}/api/v1/ws?token=${encodeURIComponent(this.token)}&since=${this.lastId}`);
    this.#ws = ws;
    ws.on('message', (raw) => {
      if (ws !== this.#ws) return;
      const { type, data } = JSON.parse(raw.toString()) as { type: string; data: any };
      if (type === 'hello') this.onHello();
      else if (type === 'code') this.onCode(data);
      else if (type === 'revoke') this.onRevoke(data.id);
      else if (type === 'reset') this.onReset();
    });
    const again = () => {
      if (ws !== this.#ws || this.stopped) return;
      this.#ws = undefined;
      setTimeout(() => {
        if (!this.stopped && this.#ws === undefined) this.connect();
      }, RECONNECT_MS);
    };
    ws.on('close', again);
    ws.on('error', again);
  }

  protected disconnect(): void {
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.terminate();
  }
}

/** socket.io-client: its manager reconnects by itself; `auth` is read again at every attempt. */
class SocketIoChaosClient extends ChaosClient {
  #socket: Socket | undefined;

  constructor(
    name: string,
    url: string,
    token: string,
    private readonly engine: 'websocket' | 'polling',
  ) {
    super(name, url, token);
  }

  connect(): void {
    const socket = io(this.url, {
      path: '/socket.io/',
      transports: [this.engine],
      auth: (cb) => cb({ token: this.token, since: this.lastId }),
      forceNew: true,
      reconnectionDelay: RECONNECT_MS,
      reconnectionDelayMax: 4 * RECONNECT_MS,
    });
    this.#socket = socket;
    const mine = () => socket === this.#socket;
    socket.on('hello', () => mine() && this.onHello());
    socket.on('new_code', (code: { id: number }) => mine() && this.onCode(code));
    socket.on('revoke_code', (id: number) => mine() && this.onRevoke(id));
    socket.on('reset', () => mine() && this.onReset());
    // A refusal by the server's middleware or a server-side disconnect is
    // not retried by socket.io-client: an app retries itself.
    const retry = () => {
      if (socket !== this.#socket || this.stopped || socket.active) return;
      setTimeout(() => {
        if (socket === this.#socket && !this.stopped && !socket.active) socket.connect();
      }, RECONNECT_MS);
    };
    socket.on('connect_error', retry);
    socket.on('disconnect', retry);
  }

  protected disconnect(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.disconnect();
  }
}

export type { ChaosClient };

/** A client of `kind` connecting through `url`, not yet connected. */
export function chaosClient(kind: ChaosKind, name: string, url: string, token: string): ChaosClient {
  switch (kind) {
    case 'sse':
      return new SseChaosClient(name, url, token);
    case 'ws':
      return new WsChaosClient(name, url, token);
    case 'socketio-websocket':
      return new SocketIoChaosClient(name, url, token, 'websocket');
    case 'socketio-polling':
      return new SocketIoChaosClient(name, url, token, 'polling');
  }
}
