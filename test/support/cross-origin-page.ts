// A page on an origin of its own (a plain node http server on another port
// of 127.0.0.1), for browser tests of codecast used from another site. It
// loads socket.io-client from node_modules, served by itself, and defines
// `subscribe(api, token, socketIoTransports)`, which opens every way in at
// once and records what each receives in `window.results`.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

export interface PageResults {
  /** Code strings received, per way in. */
  readonly codes: Record<'eventSource' | 'fetchStream' | 'ws' | 'socketio', string[]>;
  /** What said it was open: the hello of each (the EventSource's connection id, for a pong). */
  readonly opened: { eventSource?: string; fetchStream?: number; ws?: boolean; socketio?: boolean };
  /** How each failed: an EventSource's readyState on error, a fetch's error, a WebSocket's close code, a connect_error's message. */
  readonly failed: { eventSource?: number; fetchStream?: string; ws?: number; socketio?: string };
}

const PAGE_SCRIPT = `
window.results = { codes: { eventSource: [], fetchStream: [], ws: [], socketio: [] }, opened: {}, failed: {} };
window.subscribe = (api, token, socketIoTransports) => {
  const r = window.results;
  const query = 'token=' + encodeURIComponent(token);

  // EventSource cannot set headers: the token goes in the URL. No preflight.
  const source = new EventSource(api + '/api/v1/stream?' + query);
  source.addEventListener('hello', (e) => { r.opened.eventSource = JSON.parse(e.data).connectionId; });
  source.addEventListener('code', (e) => r.codes.eventSource.push(JSON.parse(e.data).code));
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) r.failed.eventSource = source.readyState; };

  // fetch with Authorization and Last-Event-ID: both need a preflight.
  fetch(api + '/api/v1/stream', { headers: { Authorization: 'Bearer ' + token, 'Last-Event-ID': '0' } }).then(async (res) => {
    r.opened.fetchStream = res.status;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (frame.includes('event: code')) r.codes.fetchStream.push(JSON.parse(frame.slice(frame.indexOf('data: ') + 6)).code);
      }
    }
  }).catch((error) => { r.failed.fetchStream = String(error); });

  const ws = new WebSocket(api.replace(/^http/, 'ws') + '/api/v1/ws?' + query);
  ws.onmessage = (e) => {
    const { type, data } = JSON.parse(e.data);
    if (type === 'hello') r.opened.ws = true;
    if (type === 'code') r.codes.ws.push(data.code);
  };
  ws.onclose = (e) => { r.failed.ws = e.code; };

  const socket = io(api, { auth: { token }, transports: socketIoTransports, reconnection: false });
  socket.on('hello', () => { r.opened.socketio = true; });
  socket.on('new_code', (code) => r.codes.socketio.push(code.code));
  socket.on('connect_error', (error) => { r.failed.socketio = error.message; });

  window.closeAll = () => { source.close(); ws.close(); socket.close(); };
};
`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title>
<script src="/socket.io.js"></script><script>${PAGE_SCRIPT}</script></head>
<body><p>A page on another origin.</p></body></html>`;

/** A page server on an ephemeral port of 127.0.0.1: its own origin. */
export async function startPageServer(): Promise<{ readonly origin: string; close(): Promise<void> }> {
  const client = readFileSync(createRequire(import.meta.url).resolve('socket.io-client/dist/socket.io.js'));
  const server = createServer((request, response) => {
    if (request.url === '/socket.io.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(client);
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
