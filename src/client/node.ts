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
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { CodecastClientError, errorOfResponse } from './client-error.js';
import type { WebSocketLike } from './link.js';
import type { SubscribeOptions, Subscription } from './subscribe-options.js';
import { CodeSubscription } from './subscription.js';

export * from './index.js';

/** The largest message taken over WebSocket; a larger one closes the connection (1009), which is retried. */
const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** How much of a refusal's body is read: codecast's JSON error is a few hundred bytes. */
const MAX_REFUSAL_BYTES = 64 * 1024;

/**
 * Subscribes to the codes of a codecast server and keeps the subscription up
 * until `close()` or a refusal: every code once, in order, across reconnects.
 */
export function subscribe(options: SubscribeOptions): Subscription {
  return new CodeSubscription(options, {
    openWebSocket: (url, token, failed) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, maxPayload: MAX_PAYLOAD_BYTES });
      // A refusal before the upgrade (403 origin_not_allowed, 401, a raw 429
      // or 503 with Retry-After) is an HTTP answer: read it, as the SSE link
      // does, rather than let ws report a lost connection (1006). terminate()
      // then ends the handshake, and the socket closes as usual.
      socket.on('unexpected-response', (_request, response) => {
        void refusalOf(response).then((error) => {
          failed(error);
          socket.terminate();
        });
      });
      socket.on('error', (error: Error & { code?: string }) => {
        if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          failed(new CodecastClientError('bad_response', `A message over ${MAX_PAYLOAD_BYTES} bytes: not codecast's.`));
        }
      });
      // ws's class fits WebSocketLike (a test checks it); its overloads are wider than TypeScript can match here.
      return socket as unknown as WebSocketLike;
    },
  });
}

/** The error of the HTTP answer that refused an upgrade: the first 64 KiB of its body, read as fetch's would be. */
async function refusalOf(response: IncomingMessage): Promise<CodecastClientError> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_REFUSAL_BYTES) break;
    }
  } catch {
    // Cut short (by close(), or the network): what came is enough.
  }
  const status = response.statusCode ?? 0;
  const headers = new Headers();
  for (const name of ['content-type', 'retry-after']) {
    const value = response.headers[name];
    if (typeof value === 'string') headers.set(name, value);
  }
  try {
    return await errorOfResponse(
      new Response(Buffer.concat(chunks).subarray(0, MAX_REFUSAL_BYTES), { status, statusText: response.statusMessage ?? '', headers }),
    );
  } catch {
    // A status fetch's Response cannot hold (1xx, 204 with a body, over 599).
    return new CodecastClientError('bad_response', `The server answered ${status} to the WebSocket upgrade.`, { status });
  }
}
