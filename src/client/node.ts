/**
 * `codecast/client` in Node (20 or later): the browser build's API, with the
 * `ws` package as the WebSocket, which sends the token in the Authorization
 * header rather than the URL.
 *
 * @example
 * import { subscribe } from 'codecast/client';
 *
 * const subscription = subscribe({
 *   url: 'http://localhost:8080',
 *   token: process.env.CODECAST_TOKEN,
 *   transport: 'websocket',
 *   onCode: (code) => {
 *     console.log(code.id, code.code);
 *     void subscription.ack(code.id);
 *   },
 * });
 * process.once('SIGINT', () => void subscription.close());
 *
 * @module
 */
import WebSocket from 'ws';
import type { WebSocketLike } from './link.js';
import type { SubscribeOptions, Subscription } from './subscribe-options.js';
import { CodeSubscription } from './subscription.js';

export * from './index.js';

/**
 * Subscribes to the codes of a codecast server and keeps the subscription up
 * until `close()` or a refusal: every code once, in order, across reconnects.
 */
export function subscribe(options: SubscribeOptions): Subscription {
  return new CodeSubscription(options, {
    openWebSocket: (url, token) =>
      // ws's class fits WebSocketLike (a test checks it); its overloads are wider than TypeScript can match here.
      new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }) as unknown as WebSocketLike,
  });
}
