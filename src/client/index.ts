/**
 * `codecast/client` in a browser: no dependencies; codecast serves this
 * build at `/assets/client/index.js`. The Node entry (node.ts) adds `ws`.
 */
import { readHistory, type HistoryOptions } from './http-api.js';
import type { WebSocketConstructor } from './link.js';
import type { SubscribeOptions, Subscription } from './subscribe-options.js';
import { baseUrlOf, CodeSubscription, defaultFetch } from './subscription.js';
import type { Code } from './wire.js';

export { CodecastClientError } from './client-error.js';
export type { History, HistoryOptions } from './http-api.js';
export type { WebSocketConstructor, WebSocketLike } from './link.js';
export type { BackoffOptions } from './backoff.js';
export type { ConnectionState, ResetTools, StateDetail, SubscribeOptions, Subscription, TransportName } from './subscribe-options.js';
export type { AckResult, Code, Hello, Reset, Shutdown } from './wire.js';

/**
 * Subscribes to the codes of a codecast server and keeps the subscription up
 * until `close()` or a refusal: every code once, in order, across reconnects
 * (SSE by default; see {@link SubscribeOptions}).
 *
 * @example
 * import { subscribe } from '/assets/client/index.js';
 *
 * const subscription = subscribe({
 *   token,
 *   onCode: (code) => {
 *     show(code);
 *     void subscription.ack(code.id);
 *   },
 *   onRevoke: (id) => hide(id),
 *   // The replay starts at reset.oldestId: what came between is read over HTTP.
 *   onReset: async (reset, { history, seenId }) => showAll(await history({ since: seenId, before: reset.oldestId })),
 *   onState: (state) => (indicator.dataset.state = state),
 * });
 * // later
 * await subscription.close();
 */
export function subscribe(options: SubscribeOptions): Subscription {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return new CodeSubscription(options, {
    openWebSocket: global
      ? (url, token) => {
          // Browsers cannot set a WebSocket's headers: the token goes in the query.
          url.searchParams.set('token', token);
          return new global(url.href);
        }
      : undefined,
  });
}

/**
 * The codes still live after `since`, oldest first, without a subscription
 * (`GET /api/v1/codes`, page by page).
 *
 * @example
 * const codes = await fetchHistory({ url: 'https://codecast.example', token, since: 40, max: 100 });
 */
export function fetchHistory(
  options: HistoryOptions & { readonly url?: string | URL; readonly token: string; readonly fetch?: typeof fetch },
): Promise<Code[]> {
  return readHistory({ url: baseUrlOf(options.url), token: options.token, fetch: options.fetch ?? defaultFetch }, options);
}
