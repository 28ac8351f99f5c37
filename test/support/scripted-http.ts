// A plain HTTP server that answers as a test scripts it — a proxy's HTML
// page, a 503 with any Retry-After, an event stream of its own, a WebSocket
// upgrade refused with an HTTP answer — for client tests against answers
// codecast itself never gives. It counts what it was asked, and close()
// leaves nothing open.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ScriptedServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Requests so far, WebSocket upgrades included. */
  readonly requests: number;
  close(): Promise<void>;
}

export interface Script {
  /** Answers the `n`th request (1 for the first). */
  request?(request: IncomingMessage, response: ServerResponse, n: number): void;
  /** Answers the `n`th upgrade request; left out, an upgrade is answered as a request. */
  upgrade?(request: IncomingMessage, socket: Duplex, head: Buffer, n: number): void;
}

/** Starts a server on an ephemeral port of 127.0.0.1 that answers as `script` says. */
export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    requests++;
    script.request?.(request, response, requests);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (script.upgrade) {
    const upgrade = script.upgrade;
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      requests++;
      socket.on('error', () => undefined);
      upgrade(request, socket, head, requests);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes a whole HTTP answer on a socket taken over for an upgrade, and ends it. */
export function answerRaw(socket: Duplex, status: string, headers: Readonly<Record<string, string>>, body: string): void {
  const lines = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' }).map(
    ([name, value]) => `${name}: ${value}\r\n`,
  );
  socket.end(`HTTP/1.1 ${status}\r\n${lines.join('')}\r\n${body}`);
}
