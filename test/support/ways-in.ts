// Every way a client reaches codecast with a token — the API, /metrics, an
// SSE stream, a WebSocket, a Socket.IO connection — from a chosen local
// address (all of 127/8 reaches a server on 127.0.0.1 on Linux) and with a
// chosen X-Forwarded-For, for tests of whom a request is charged to.
import { request } from 'node:http';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

export const badToken = (n: number | string) => `cc_unknown-token-${n}-0123456789abcdefghijklmn`;

export interface From {
  /** The TCP peer's address. */
  readonly from: string;
  /** The X-Forwarded-For header sent, if any. */
  readonly xff?: string;
}

/** One GET on a fresh connection: its status and the error code of its JSON body. */
export function get(url: string, path: string, { from, xff }: From, authorization?: string): Promise<{ status: number; error?: string }> {
  const { port } = new URL(url);
  const headers: Record<string, string> = { connection: 'close' };
  if (xff !== undefined) headers['x-forwarded-for'] = xff;
  if (authorization !== undefined) headers.authorization = authorization;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(port), path, localAddress: from, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let error: string | undefined;
        try {
          error = (JSON.parse(body) as { error?: string }).error;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, error });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a bad token gets on each way in: the machine code of the refusal. */
export const refusals: Record<string, (url: string, from: From, n: number) => Promise<string | undefined>> = {
  api: async (url, from, n) => (await get(url, '/api/v1/me', from, `Bearer ${badToken(n)}`)).error,
  metrics: async (url, from, n) => (await get(url, '/metrics', from, `Bearer wrong-metrics-${n}-0123456789`)).error,
  sse: async (url, from, n) => (await get(url, `/api/v1/stream?token=${badToken(n)}`, from)).error,
  ws: (url, { from, xff }, n) =>
    new Promise((resolve) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws?token=${badToken(n)}`, {
        localAddress: from,
        headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
      });
      ws.on('error', () => undefined);
      ws.on('close', (_code, reason) => resolve(reason.toString()));
    }),
  socketio: (url, { from, xff }, n) =>
    new Promise((resolve) => {
      const socket = io(url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        auth: { token: badToken(n) },
        localAddress: from,
        extraHeaders: xff === undefined ? {} : { 'x-forwarded-for': xff },
      } as Parameters<typeof io>[1] & { localAddress: string });
      socket.on('connect_error', (err: Error & { data?: { error?: string } }) => {
        socket.close();
        resolve(err.data?.error ?? err.message);
      });
    }),
};
