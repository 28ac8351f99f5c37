// The live stream of codes over fetch: unlike EventSource, fetch sends the
// token in the Authorization header, so it never lands in a URL, a log or
// the browser history. It resumes after a drop with Last-Event-ID, as
// EventSource would, so the server replays what was missed (docs/PROTOCOL.md).

import { API, errorOf } from './api.js';

/** @typedef {'connecting' | 'catching-up' | 'live' | 'reconnecting' | 'offline' | 'refused' | 'stopped'} StreamState */

const CONNECT_TIMEOUT_MS = 15_000;
const MAX_BACKOFF_MS = 30_000;
// Replayed codes are written right behind `hello`; this long without one
// means the replay is over even when its newest code was revoked or expired.
const CATCH_UP_QUIET_MS = 700;

/**
 * Parses `text/event-stream` as WHATWG HTML §9.2.6 says: lines end in CRLF,
 * LF or CR; a blank line ends a frame; `data` lines join with LF.
 */
class EventStreamParser {
  #buffer = '';
  #event = '';
  #data = [];
  #id;

  /** @param {(frame: {event: string, data: string, id: string | undefined}) => void} onFrame @param {(ms: number) => void} onRetry */
  constructor(onFrame, onRetry) {
    this.onFrame = onFrame;
    this.onRetry = onRetry;
  }

  push(text) {
    this.#buffer += text;
    let start = 0;
    for (;;) {
      const match = /\r\n|\r|\n/g;
      match.lastIndex = start;
      const found = match.exec(this.#buffer);
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (!found || (found[0] === '\r' && found.index === this.#buffer.length - 1)) break;
      this.#line(this.#buffer.slice(start, found.index));
      start = found.index + found[0].length;
    }
    this.#buffer = this.#buffer.slice(start);
  }

  #line(line) {
    if (line === '') {
      if (this.#data.length > 0) this.onFrame({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id });
      this.#event = '';
      this.#data = [];
      this.#id = undefined;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}

/**
 * One subscriber's stream, reconnecting until stopped or refused.
 *
 * @example
 * const stream = new CodeStream(token, {
 *   onState: (state) => indicator.show(state),
 *   onCode: (code, { replayed }) => list.add(code),
 *   onRevoke: (id) => list.revoke(id),
 *   onReset: () => list.reload(),
 *   onRefused: (error) => signOut(error.message),
 * });
 * stream.start();
 */
export class CodeStream {
  #token;
  #on;
  /** @type {number | undefined} the newest code id seen: where a reconnect resumes */
  #lastId;
  /** @type {StreamState} */
  #state = 'stopped';
  #running = false;
  #hasConnected = false;
  #attempt = 0;
  #retryMs = 3000;
  #reconnectAfterMs;
  #heartbeatMs = 15_000;
  #catchUpTarget = 0;
  #quietTimer;
  #watchdog;
  #abort;
  #wake;

  /**
   * @param {string} token
   * @param {{
   *   onState?: (state: StreamState, detail: {retryInMs?: number, reason?: string, missed?: number}) => void,
   *   onHello?: (hello: {connectionId: string, lastId: number, heartbeatSeconds: number}, resumed: boolean) => void,
   *   onCode?: (code: object, how: {replayed: boolean}) => void,
   *   onRevoke?: (id: number) => void,
   *   onReset?: (reset: {oldestId: number, lastId: number}) => void,
   *   onRefused?: (error: import('./api.js').ApiError) => void,
   * }} handlers
   */
  constructor(token, handlers) {
    this.#token = token;
    this.#on = handlers;
    this.onOffline = this.onOffline.bind(this);
    this.onOnline = this.onOnline.bind(this);
  }

  get state() {
    return this.#state;
  }

  get lastId() {
    return this.#lastId;
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    addEventListener('offline', this.onOffline);
    addEventListener('online', this.onOnline);
    void this.#run();
  }

  stop() {
    this.#running = false;
    removeEventListener('offline', this.onOffline);
    removeEventListener('online', this.onOnline);
    this.#abort?.abort();
    this.#wake?.();
    clearTimeout(this.#quietTimer);
    this.#setState('stopped');
  }

  /** Reconnects now rather than at the end of the current wait. */
  reconnectNow() {
    this.#attempt = 0;
    this.#wake?.();
  }

  onOffline() {
    // The browser knows the network is gone: do not wait for the heartbeat to lapse.
    this.#abort?.abort();
  }

  onOnline() {
    this.reconnectNow();
  }

  async #run() {
    while (this.#running) {
      if (navigator.onLine === false) {
        this.#setState('offline');
        await this.#sleep(MAX_BACKOFF_MS);
        continue;
      }
      this.#setState(this.#hasConnected ? 'reconnecting' : 'connecting');
      const outcome = await this.#connectOnce();
      if (!this.#running || outcome.refused) return;
      const delay = outcome.retryAfterMs ?? this.#backoffMs();
      this.#attempt++;
      if (navigator.onLine === false) continue;
      this.#setState('reconnecting', { retryInMs: delay, reason: outcome.reason });
      await this.#sleep(delay);
    }
  }

  #backoffMs() {
    const base = Math.min(MAX_BACKOFF_MS, this.#retryMs * 2 ** this.#attempt);
    // Jitter, so a server restart is not met by every subscriber at once.
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  #sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** One connection, from the request to the end of the stream. */
  async #connectOnce() {
    const controller = new AbortController();
    this.#abort = controller;
    this.#reconnectAfterMs = undefined;
    const headers = { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' };
    if (this.#lastId !== undefined) headers['last-event-id'] = String(this.#lastId);
    this.#arm(controller, CONNECT_TIMEOUT_MS);
    try {
      const response = await fetch(`${API}/stream`, { headers, signal: controller.signal, cache: 'no-store' });
      if (!response.ok) {
        const error = await errorOf(response);
        if (error.status === 401 || error.status === 403) {
          this.#running = false;
          this.#setState('refused', { reason: error.message });
          this.#on.onRefused?.(error);
          return { refused: true };
        }
        const retryAfter = Number(response.headers.get('retry-after'));
        return { reason: error.message, retryAfterMs: retryAfter > 0 ? retryAfter * 1000 : undefined };
      }
      const parser = new EventStreamParser(
        (frame) => this.#dispatch(frame),
        (ms) => {
          this.#retryMs = ms;
        },
      );
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // Any bytes, pings included, prove the connection is alive.
        this.#arm(controller, this.#hasConnected ? this.#heartbeatMs * 2 + 2000 : CONNECT_TIMEOUT_MS);
        parser.push(value);
      }
      return { reason: 'The server ended the stream.', retryAfterMs: this.#reconnectAfterMs };
    } catch {
      return { reason: navigator.onLine === false ? 'The network is offline.' : 'The connection was lost.' };
    } finally {
      clearTimeout(this.#watchdog);
      clearTimeout(this.#quietTimer);
      controller.abort();
    }
  }

  /** Aborts the connection when nothing arrives for `ms`. */
  #arm(controller, ms) {
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => controller.abort(), ms);
  }

  #dispatch(frame) {
    let data;
    try {
      data = JSON.parse(frame.data);
    } catch {
      return;
    }
    switch (frame.event) {
      case 'hello':
        return this.#hello(data);
      case 'code': {
        const id = Number(data.id);
        if (!Number.isSafeInteger(id) || (this.#lastId !== undefined && id <= this.#lastId)) return;
        this.#lastId = id;
        const replayed = this.#state === 'catching-up';
        this.#on.onCode?.(data, { replayed });
        if (replayed) {
          if (id >= this.#catchUpTarget) this.#caughtUp();
          else this.#quietTimer = restart(this.#quietTimer, () => this.#caughtUp(), CATCH_UP_QUIET_MS);
        }
        return;
      }
      case 'revoke':
        return this.#on.onRevoke?.(Number(data.id));
      case 'reset':
        return this.#on.onReset?.(data);
      case 'shutdown':
        this.#reconnectAfterMs = Number(data.reconnectAfterMs) || undefined;
        return;
      default:
        return; // ping, and anything newer than this page
    }
  }

  #hello(hello) {
    const resumed = this.#lastId !== undefined;
    this.#hasConnected = true;
    this.#attempt = 0;
    this.#heartbeatMs = Math.max(1, Number(hello.heartbeatSeconds) || 15) * 1000;
    // Live codes start after hello.lastId: resume from there even if none arrives.
    if (this.#lastId === undefined) this.#lastId = Number(hello.lastId) || 0;
    this.#on.onHello?.(hello, resumed);
    if (Number(hello.lastId) > this.#lastId) {
      this.#catchUpTarget = Number(hello.lastId);
      this.#setState('catching-up', { missed: this.#catchUpTarget - this.#lastId });
      this.#quietTimer = restart(this.#quietTimer, () => this.#caughtUp(), CATCH_UP_QUIET_MS);
    } else {
      this.#setState('live');
    }
  }

  #caughtUp() {
    clearTimeout(this.#quietTimer);
    if (this.#state === 'catching-up') this.#setState('live');
  }

  #setState(state, detail = {}) {
    const changed = state !== this.#state;
    this.#state = state;
    if (changed || state === 'reconnecting') this.#on.onState?.(state, detail);
  }
}

function restart(timer, fn, ms) {
  clearTimeout(timer);
  return setTimeout(fn, ms);
}
