import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CodecastError } from '../domain/index.js';
import { PENDING_RETRY_AFTER_SECONDS } from './pending-budget.js';

// Answers written straight to a socket, where no framework owns the
// response: before a request was read, or on an upgrade that is refused.

/** How long a refused socket gets to take its answer before it is cut. */
const REFUSAL_LINGER_MS = 250;

/**
 * Answers a catalog error on a socket that no HTTP response object owns (a
 * request Node could not parse, a refused upgrade), then closes it.
 */
export function writeRawError(socket: Duplex, error: CodecastError, headers: Readonly<Record<string, string>> = {}): void {
  const body = JSON.stringify({ error: error.code, message: error.message, ...error.details });
  const head = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...headers,
  };
  const lines = Object.entries(head)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n${lines}\r\n${body}`);
}

/** The raw HTTP answer for a refusal made before any request was read (no framework to send it yet). */
function rawRefusal(error: CodecastError, headers: Readonly<Record<string, string>>): string {
  const body = JSON.stringify({ error: error.code, message: error.message });
  const reason = error.status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Retry-After: ${error.retryAfterSeconds ?? PENDING_RETRY_AFTER_SECONDS}\r\nConnection: close\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * Answers a refusal on a socket no request was read from yet, half-closes
 * it, and cuts it shortly after: reading on for a moment lets a request the
 * peer had already sent be taken rather than answered with a reset that
 * could destroy our answer in its buffers, and the cut bounds how long a
 * refused socket holds a file descriptor. A request read meanwhile is
 * served as any other and dies with the socket. `headers` are added to the
 * answer (CORS headers, for a page to read it).
 */
export function refuseSocket(socket: Duplex, error: CodecastError, headers: Readonly<Record<string, string>> = {}): void {
  socket.on('error', () => undefined);
  if (socket.writable) socket.end(rawRefusal(error, headers));
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
}
