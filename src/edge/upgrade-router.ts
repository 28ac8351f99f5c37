import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

// Module-level, not a closure per upgrade: on a socket that is not released
// it stays for as long as the connection lives.
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Takes the router's error guard off an upgrade's socket, once the handler's
 * library has put its own error handling on it (ws does in `handleUpgrade`):
 * two listeners would cost every connection an array for the rest of its life.
 */
export function releaseUpgradeSocket(socket: Duplex): void {
  socket.off('error', destroyOnError);
}

const NOT_FOUND_BODY = JSON.stringify({ error: 'not_found', message: 'No WebSocket endpoint here.' });

/**
 * Sends each HTTP upgrade to the transport that owns its path. Paths under
 * a `delegated` prefix are left to a library that listens itself
 * (engine.io); any other upgrade is answered 404 rather than left hanging.
 */
export function routeUpgrades(server: Server, routes: Readonly<Record<string, UpgradeHandler>>, delegated: readonly string[]): void {
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node drops its own error handler before 'upgrade': without ours, a
    // reset from the client while we answer would crash the process.
    socket.on('error', destroyOnError);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const handler = routes[path];
    if (handler) {
      handler(request, socket, head);
    } else if (!delegated.some((prefix) => path.startsWith(prefix))) {
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(NOT_FOUND_BODY)}\r\nConnection: close\r\n\r\n${NOT_FOUND_BODY}`,
      );
    }
  });
}
