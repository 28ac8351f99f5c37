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
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  const used = (request: { socket: Socket }) => unused.delete(request.socket);
  server.on('request', used);
  server.on('upgrade', used);
  return {
    destroyAll() {
      for (const socket of unused) socket.destroy();
      unused.clear();
    },
  };
}
