import {
  boundedDelayMs,
  checkBackoffOptions,
  DEFAULT_INITIAL_MS,
  DEFAULT_MAX_MS,
  MAX_DELAY_MS,
  MAX_TIMER_MS,
  reconnectDelayMs,
} from './backoff.js';
import { CodecastClientError } from './client-error.js';
import { apiUrl, postAck, readHistory, type ApiTarget, type History, type HistoryOptions } from './http-api.js';
import type { Link, LinkEvents, WebSocketOpener } from './link.js';
import { openSseLink } from './sse-link.js';
import type { ConnectionState, StateDetail, SubscribeOptions, Subscription, TransportName } from './subscribe-options.js';
import { isCode, type AckResult, type ErrorBody, type Hello, type Reset, type Shutdown } from './wire.js';
import { openWebSocketLink } from './websocket-link.js';

/** What differs between the browser and Node entries. */
export interface Platform {
  /** How to open a WebSocket when the options name no constructor; undefined when there is none. */
  readonly openWebSocket: WebSocketOpener | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
// Replayed codes are written right behind `hello`; this long without one
// means the replay is over even when its newest code was revoked or expired.
const CATCH_UP_QUIET_MS = 700;
/** A connection silent for two heartbeats and this is dead (a lost network says nothing). */
const HEARTBEAT_GRACE_MS = 2000;

/** The slice of a browser's global scope used to follow the network. */
interface NetworkEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
  readonly navigator?: { readonly onLine?: boolean };
}

function networkEvents(): NetworkEvents | undefined {
  const scope = globalThis as unknown as Partial<NetworkEvents>;
  return typeof scope.addEventListener === 'function' && typeof scope.navigator?.onLine === 'boolean'
    ? (scope as NetworkEvents)
    : undefined;
}

/** The server's base URL: as given, or the page's origin. */
export function baseUrlOf(url: string | URL | undefined): URL {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
  if (url === undefined) {
    if (!origin || origin === 'null') throw new TypeError('subscribe: `url` is required outside a web page.');
    return new URL(origin);
  }
  return new URL(url, origin && origin !== 'null' ? origin : undefined);
}

/** The global fetch, called through globalThis: a browser's fetch refuses another `this`. */
export const defaultFetch = (...args: Parameters<typeof fetch>): Promise<Response> => globalThis.fetch(...args);

/**
 * One subscriber's stream of codes: connects, resumes after every drop from
 * the last id it saw, and delivers every code once in order. The loop is
 * event-driven (no pending promise per wait) so `close()` can end it at any
 * point and leave nothing behind.
 */
export class CodeSubscription implements Subscription {
  readonly transport: TransportName;
  readonly done: Promise<CodecastClientError | undefined>;
  readonly history: History;
  readonly #options: SubscribeOptions;
  readonly #api: ApiTarget;
  readonly #openWebSocket: WebSocketOpener | undefined;
  readonly #network: NetworkEvents | undefined;
  /** Aborted by close(): the history() and ack() requests in flight end with it. */
  readonly #requests = new AbortController();
  #finish: (outcome: CodecastClientError | undefined) => void = () => undefined;

  #state: ConnectionState = 'connecting';
  #lastId: number | undefined;
  #link: Link | undefined;
  #stopped = false;
  #hasConnected = false;
  /**
   * Counts the connection attempts and `close()`: a step that ran an
   * application callback goes on only if this has not moved meanwhile (the
   * callback reconnected, or closed the subscription).
   */
  #generation = 0;
  /** Failed attempts since the last hello: the backoff's exponent. */
  #attempt = 0;
  /** The backoff's first delay: the option, or the `retry:` that opened the last SSE stream. */
  #retryHintMs: number;
  /** A `retry:` the current stream sent after its hello: a hint for the next wait only. */
  #waitHintMs: number | undefined;
  /** The current connection said hello. */
  #greeted = false;
  #heartbeatMs = 0;
  /** What the current connection's `shutdown` asked for: the next wait only. */
  #shutdown: Shutdown | undefined;
  #catchUpTarget = 0;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #quietTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SubscribeOptions, platform: Platform) {
    if (typeof options.token !== 'string' || options.token === '') throw new TypeError('subscribe: `token` is required.');
    if (options.since !== undefined && !(Number.isSafeInteger(options.since) && options.since >= 0)) {
      throw new TypeError('subscribe: `since` must be a code id (a whole number, 0 or more).');
    }
    checkBackoffOptions(options.reconnect);
    const connectTimeoutMs = options.connectTimeoutMs;
    if (
      connectTimeoutMs !== undefined &&
      !(typeof connectTimeoutMs === 'number' && connectTimeoutMs > 0 && connectTimeoutMs <= MAX_DELAY_MS)
    ) {
      throw new TypeError(`subscribe: \`connectTimeoutMs\` must be a number of ms above 0, at most ${MAX_DELAY_MS}.`);
    }
    this.#options = options;
    this.transport = options.transport ?? 'sse';
    if (this.transport !== 'sse' && this.transport !== 'websocket') {
      throw new TypeError(`subscribe: \`transport\` is 'sse' or 'websocket', not ${JSON.stringify(this.transport)}.`);
    }
    const given = options.WebSocket;
    this.#openWebSocket = given
      ? (url, token) => {
          url.searchParams.set('token', token);
          return new given(url.href);
        }
      : platform.openWebSocket;
    if (this.transport === 'websocket' && !this.#openWebSocket) {
      throw new TypeError('subscribe: no WebSocket here; pass the `WebSocket` option.');
    }
    const fetchFn = options.fetch ?? defaultFetch;
    this.#api = { url: baseUrlOf(options.url), token: options.token, fetch: fetchFn, signal: this.#requests.signal };
    this.#lastId = options.since;
    this.#retryHintMs = options.reconnect?.initialMs ?? DEFAULT_INITIAL_MS;
    this.#network = options.watchNetwork === false ? undefined : networkEvents();
    this.history = (historyOptions?: HistoryOptions) => readHistory(this.#api, historyOptions);
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
    this.#network?.addEventListener('offline', this.#onOffline);
    this.#network?.addEventListener('online', this.#onOnline);
    // Connecting starts once `subscribe` has returned, so callbacks may use
    // the subscription it answers.
    queueMicrotask(() => {
      if (this.#stopped) return;
      this.#call(() => this.#options.onState?.('connecting', {}));
      // The callback may have closed the subscription, or connected it.
      if (this.#stopped || this.#generation > 0) return;
      this.#connect();
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get lastId(): number | undefined {
    return this.#lastId;
  }

  async ack(id: number): Promise<AckResult | undefined> {
    if (this.#link?.ack(id)) return undefined;
    return postAck(this.#api, id);
  }

  reconnectNow(): void {
    if (this.#stopped || this.#link) return;
    this.#attempt = 0;
    this.#connect();
  }

  async close(): Promise<void> {
    if (this.#stopped) {
      await this.done;
      return;
    }
    const link = this.#link;
    this.#halt();
    this.#requests.abort();
    await link?.close();
    this.#setState('closed', {});
    this.#finish(undefined);
  }

  /** Stops every timer and listener, and forgets the link (which the caller closes). */
  #halt(): void {
    this.#stopped = true;
    this.#generation++;
    this.#link = undefined;
    clearTimeout(this.#waitTimer);
    clearTimeout(this.#watchdog);
    clearTimeout(this.#quietTimer);
    this.#network?.removeEventListener('offline', this.#onOffline);
    this.#network?.removeEventListener('online', this.#onOnline);
  }

  // The browser knows the network is gone: do not wait for the heartbeat to lapse.
  readonly #onOffline = (): void => {
    const link = this.#link;
    if (!link) return;
    void link.close();
    this.#ended(new CodecastClientError('offline', 'The network is offline.'));
  };

  readonly #onOnline = (): void => this.reconnectNow();

  #isOffline(): boolean {
    return this.#network?.navigator?.onLine === false;
  }

  #connect(): void {
    clearTimeout(this.#waitTimer);
    if (this.#stopped) return;
    const generation = ++this.#generation;
    // One connection at a time: one still open (an attempt made from a callback) is given up.
    const previous = this.#link;
    this.#link = undefined;
    void previous?.close();
    if (this.#isOffline()) {
      this.#setState('offline', {});
      if (generation !== this.#generation) return;
      // `online` reconnects; this is the fallback should the event never come.
      this.#waitTimer = setTimeout(() => this.#connect(), boundedDelayMs(this.#options.reconnect?.maxMs ?? DEFAULT_MAX_MS));
      return;
    }
    this.#setState(this.#hasConnected ? 'reconnecting' : 'connecting', {});
    // The callback may have closed the subscription, or connected it itself.
    if (generation !== this.#generation) return;
    this.#shutdown = undefined;
    this.#waitHintMs = undefined;
    this.#greeted = false;
    const events: LinkEvents = {
      message: (type, data) => {
        if (this.#link === link) this.#message(type, data);
      },
      alive: () => {
        if (this.#link === link && this.#heartbeatMs > 0) this.#arm(this.#heartbeatMs * 2 + HEARTBEAT_GRACE_MS);
      },
      retry: (ms) => {
        if (this.#link !== link) return;
        // The `retry:` opening a stream sets the backoff's pace; one sent
        // later (with `shutdown`) is for the wait that follows it only.
        if (this.#greeted) this.#waitHintMs = ms;
        else this.#retryHintMs = ms;
      },
      ended: (error) => {
        if (this.#link === link) this.#ended(error);
      },
    };
    this.#heartbeatMs = 0;
    const link =
      this.transport === 'sse'
        ? openSseLink(
            { url: apiUrl(this.#api.url, '/api/v1/stream'), token: this.#api.token, lastId: this.#lastId, fetch: this.#api.fetch },
            events,
          )
        : openWebSocketLink({ url: this.#webSocketUrl(), token: this.#api.token, open: this.#openWebSocket as WebSocketOpener }, events);
    this.#link = link;
    this.#arm(this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  }

  #webSocketUrl(): URL {
    const url = apiUrl(this.#api.url, '/api/v1/ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.#lastId !== undefined) url.searchParams.set('since', String(this.#lastId));
    return url;
  }

  /** Drops the connection when nothing arrives for `ms`. */
  #arm(ms: number): void {
    clearTimeout(this.#watchdog);
    // A server announcing heartbeats of weeks must not overflow the timer into 1 ms.
    ms = Math.min(ms, MAX_TIMER_MS);
    this.#watchdog = setTimeout(() => {
      const link = this.#link;
      if (!link) return;
      void link.close();
      this.#ended(new CodecastClientError('timeout', `Nothing arrived for ${Math.round(ms / 1000)} s.`));
    }, ms);
  }

  /** The connection is over: stop for good, or wait and try again. */
  #ended(reason: CodecastClientError): void {
    this.#link = undefined;
    clearTimeout(this.#watchdog);
    clearTimeout(this.#quietTimer);
    const shutdown = this.#shutdown;
    const error = shutdown
      ? new CodecastClientError('shutdown', 'The server is restarting.', { ...reason.details, retryAfterMs: shutdown.reconnectAfterMs })
      : reason;
    if (error.final) {
      this.#halt();
      this.#call(() => this.#options.onError?.(error));
      this.#setState('refused', { error });
      this.#finish(error);
      return;
    }
    const generation = this.#generation;
    // After each callback: if it closed the subscription or reconnected, that stands.
    const overtaken = () => generation !== this.#generation;
    this.#call(() => this.#options.onError?.(error));
    if (overtaken()) return;
    if (this.#isOffline()) {
      this.#setState('offline', { error });
      if (!overtaken()) this.#connect();
      return;
    }
    const { maxMs = DEFAULT_MAX_MS } = this.#options.reconnect ?? {};
    const askedMs = error.retryAfterMs ?? this.#waitHintMs;
    const delay = reconnectDelayMs(this.#attempt, { initialMs: this.#retryHintMs, maxMs, askedMs });
    this.#attempt++;
    this.#setState('reconnecting', { retryInMs: delay, error });
    if (overtaken()) return;
    this.#waitTimer = setTimeout(() => this.#connect(), delay);
  }

  #message(type: string, data: unknown): void {
    switch (type) {
      case 'hello':
        this.#hello(data as Hello);
        break;
      case 'code':
        this.#code(data);
        break;
      case 'revoke': {
        const id = Number((data as { id?: unknown } | null)?.id);
        if (Number.isSafeInteger(id)) this.#call(() => this.#options.onRevoke?.(id));
        break;
      }
      case 'reset':
        this.#reset(data as Reset);
        break;
      case 'shutdown':
        this.#shutdown = { reconnectAfterMs: Math.max(0, Number((data as Partial<Shutdown> | null)?.reconnectAfterMs) || 0) };
        break;
      case 'error': {
        const body = data as Partial<ErrorBody> | null;
        const error = new CodecastClientError(String(body?.error ?? 'error'), String(body?.message ?? 'The server sent an error.'));
        this.#call(() => this.#options.onError?.(error));
        break;
      }
      default:
        break; // ping, and anything newer than this client
    }
  }

  #hello(hello: Hello): void {
    const resumed = this.#lastId !== undefined;
    const serverLastId = Number(hello.lastId) || 0;
    const generation = this.#generation;
    this.#hasConnected = true;
    this.#greeted = true;
    this.#attempt = 0;
    this.#heartbeatMs = Math.max(1, Number(hello.heartbeatSeconds) || 15) * 1000;
    this.#arm(this.#heartbeatMs * 2 + HEARTBEAT_GRACE_MS);
    // Live codes start after the server's newest: resume from there even if none arrives.
    if (this.#lastId === undefined) this.#lastId = serverLastId;
    this.#call(() => this.#options.onHello?.(hello, { resumed }));
    // The callback may have closed the subscription: then it is neither live nor catching up.
    if (generation !== this.#generation) return;
    if (serverLastId > this.#lastId) {
      this.#catchUpTarget = serverLastId;
      this.#setState('catching-up', { missed: serverLastId - this.#lastId });
      this.#restartQuietTimer();
    } else {
      this.#setState('live', {});
    }
  }

  #code(data: unknown): void {
    if (!isCode(data)) return;
    // Exactly once, in order: the server never repeats a code, but a
    // client that drops one at or below its last id cannot be made to.
    if (this.#lastId !== undefined && data.id <= this.#lastId) return;
    this.#lastId = data.id;
    const replayed = this.#state === 'catching-up';
    if (replayed) {
      if (data.id >= this.#catchUpTarget) this.#caughtUp();
      else this.#restartQuietTimer();
    }
    this.#call(() => this.#options.onCode?.(data, { replayed }));
  }

  #reset(reset: Reset): void {
    const seenId = this.#lastId;
    // The server has fewer codes than this client saw (it restarted on an
    // older database): its next ids may be ones already seen, and are new.
    if (seenId !== undefined && Number(reset.lastId) < seenId) {
      this.#lastId = Number(reset.lastId) || 0;
      this.#caughtUp();
    }
    this.#call(() => this.#options.onReset?.(reset, { history: this.history, seenId }));
  }

  #restartQuietTimer(): void {
    clearTimeout(this.#quietTimer);
    this.#quietTimer = setTimeout(() => this.#caughtUp(), CATCH_UP_QUIET_MS);
  }

  #caughtUp(): void {
    clearTimeout(this.#quietTimer);
    if (this.#state === 'catching-up') this.#setState('live', {});
  }

  #setState(state: ConnectionState, detail: StateDetail): void {
    const changed = state !== this.#state;
    this.#state = state;
    // Every wait is news (its delay and cause), even in the same state.
    if (changed || (state === 'reconnecting' && detail.retryInMs !== undefined)) this.#call(() => this.#options.onState?.(state, detail));
  }

  /**
   * Runs an application callback. Its exception is rethrown on its own
   * (an uncaught error, as an event listener's would be) rather than
   * swallowed, and does not break the subscription's loop.
   */
  #call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      setTimeout(() => {
        throw error;
      }, 0);
    }
  }
}
