import { CodecastClientError, errorOfClose } from './client-error.js';
import type { Link, LinkEvents, WebSocketOpener } from './link.js';

export interface WebSocketLinkOptions {
  /** `…/api/v1/ws`, with `since` when resuming. */
  readonly url: URL;
  readonly token: string;
  readonly open: WebSocketOpener;
}

const OPEN = 1;
const CLOSED = 3;
/** How long close() waits for the server's close frame before dropping the connection. */
const CLOSE_GRACE_MS = 1000;

/** A WebSocket connection: JSON envelopes `{type, data}` in, `{type: "ack", id}` out. */
export function openWebSocketLink(options: WebSocketLinkOptions, events: LinkEvents): Link {
  let closing = false;
  /** Why the socket is closing, when the opener knows it better than the close code. */
  let failure: CodecastClientError | undefined;
  let socket: ReturnType<WebSocketOpener>;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  try {
    socket = options.open(options.url, options.token, (error) => {
      failure = error;
    });
  } catch (error) {
    // A malformed URL throws here in browsers; report it like any failed attempt.
    const message = error instanceof Error ? error.message : String(error);
    queueMicrotask(() => events.ended(new CodecastClientError('network_error', message)));
    markClosed();
    return { ack: () => false, close: async () => undefined };
  }
  socket.addEventListener('message', (event) => {
    if (closing) return;
    events.alive();
    let envelope: { type?: unknown; data?: unknown };
    try {
      envelope = JSON.parse(String(event.data)) as typeof envelope;
    } catch {
      return;
    }
    if (typeof envelope?.type === 'string') events.message(envelope.type, envelope.data);
  });
  // Every failure ends in 'close', with the code that says why (1006 when the network failed).
  socket.addEventListener('error', () => undefined);
  socket.addEventListener('close', (event) => {
    markClosed();
    if (!closing) events.ended(failure ?? errorOfClose(event.code, event.reason));
  });
  return {
    ack(id) {
      if (closing || socket.readyState !== OPEN) return false;
      socket.send(JSON.stringify({ type: 'ack', id }));
      return true;
    },
    async close() {
      closing = true;
      if (socket.readyState === CLOSED) return;
      socket.close(1000);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      });
      await Promise.race([closed, grace]);
      clearTimeout(timer);
      // A server that never answers the close would hold the socket (ws waits 30 s).
      if (socket.readyState !== CLOSED) socket.terminate?.();
    },
  };
}
