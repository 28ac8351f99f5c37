// One connection of a subscriber over one transport, reporting each event and
// its one end through callbacks: the recording subscriber (cluster-
// subscriber.ts) needs every event at once and in order, across the
// reconnects it makes itself, which the polled arrays of clients.ts do not
// give.
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { parseSseBlock } from './sse.js';

export type LinkKind = 'sse' | 'ws' | 'socketio' | 'socketio-polling';
export const LINK_KINDS: readonly LinkKind[] = ['sse', 'ws', 'socketio', 'socketio-polling'];

/** Our names for what arrives, whatever the transport calls it. */
export type LinkEvent = 'hello' | 'code' | 'revoke' | 'reset' | 'shutdown';

export interface LinkHandlers {
  event(type: LinkEvent, data: any): void;
  /** Called once, when the connection is over (refused, cut, closed). */
  end(reason: string): void;
}

export interface Link {
  close(): void;
}

/** Opens one connection to `url` resuming after `since` (left out: live only). */
export function openLink(kind: LinkKind, url: string, token: string, since: number | undefined, handlers: LinkHandlers): Link {
  let ended = false;
  const once: LinkHandlers = {
    event: (type, data) => {
      if (!ended) handlers.event(type, data);
    },
    end: (reason) => {
      if (ended) return;
      ended = true;
      handlers.end(reason);
    },
  };
  switch (kind) {
    case 'sse':
      return openSse(url, token, since, once);
    case 'ws':
      return openWs(url, token, since, once);
    case 'socketio':
      return openSocketIo(url, token, since, ['websocket'], once);
    case 'socketio-polling':
      return openSocketIo(url, token, since, ['polling'], once);
  }
}

function openSse(url: string, token: string, since: number | undefined, on: LinkHandlers): Link {
  const controller = new AbortController();
  const query = since === undefined ? '' : `?since=${since}`;
  void (async () => {
    try {
      const response = await fetch(`${url}/api/v1/stream${query}`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) {
        on.end(`HTTP ${response.status} ${await response.text().catch(() => '')}`);
        return;
      }
      const decoder = new TextDecoder();
      let buffer = '';
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const frame = parseSseBlock(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (frame && frame.event !== 'ping') on.event(frame.event as LinkEvent, frame.data);
        }
      }
      on.end('stream ended');
    } catch (error) {
      on.end(
        `stream failed: ${(error as Error).message}${(error as { cause?: Error }).cause ? ` (${(error as { cause: Error }).cause.message})` : ''}`,
      );
    }
  })();
  return { close: () => controller.abort() };
}

function openWs(url: string, token: string, since: number | undefined, on: LinkHandlers): Link {
  const params = new URLSearchParams({ token });
  if (since !== undefined) params.set('since', String(since));
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws?${params}`);
  ws.on('message', (raw) => {
    const { type, data } = JSON.parse(raw.toString()) as { type: string; data: unknown };
    if (type !== 'ping') on.event(type as LinkEvent, data);
  });
  ws.on('close', (code, reason) => on.end(`ws close ${code} ${reason.toString()}`));
  ws.on('error', (error) => on.end(`ws error ${error.message}`));
  return { close: () => ws.terminate() };
}

function openSocketIo(
  url: string,
  token: string,
  since: number | undefined,
  transports: ('websocket' | 'polling')[],
  on: LinkHandlers,
): Link {
  const socket = io(url, {
    path: '/socket.io/',
    transports,
    auth: since === undefined ? { token } : { token, since },
    reconnection: false,
    forceNew: true,
  });
  socket.on('hello', (data) => on.event('hello', data));
  socket.on('new_code', (code) => on.event('code', code));
  socket.on('revoke_code', (id) => on.event('revoke', { id }));
  socket.on('reset', (data) => on.event('reset', data));
  socket.on('shutdown', (data) => on.event('shutdown', data));
  socket.on('connect_error', (error: Error & { data?: { error?: string } }) =>
    on.end(`socket.io connect_error ${error.data?.error ?? error.message}`),
  );
  socket.on('disconnect', (reason) => on.end(`socket.io disconnect ${reason}`));
  return { close: () => socket.disconnect() };
}
