import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Keeps track of connections that have not sent a request yet. Clients open
 * such connections ahead of need (browsers preconnect; undici does after an
 * aborted stream); Node's server.close() does not count them as idle and
 * waits for its headers timeout, so a graceful stop closes them itself.
 */
export function trackUnusedSockets(server: Server): { destroyAll(): void } {
  const unused = new Set<Socket>();
  // One handler for every socket, found through `this`, and taken off once
  // the socket carries a request: a closure (and a once-wrapper) per socket
  // would stay for the life of every stream, tens of thousands of them.
  const forget = function (this: Socket): void {
    unused.delete(this);
  };
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.on('close', forget);
  });
  const used = (request: { socket: Socket }) => {
    if (unused.delete(request.socket)) request.socket.off('close', forget);
  };
  server.on('request', used);
  server.on('upgrade', used);
  return {
    destroyAll() {
      for (const socket of unused) socket.destroy();
      unused.clear();
    },
  };
}
