import { randomBytes } from 'node:crypto';

// A random prefix per process and a counter: unique across processes and
// restarts, and short — a UUID string per connection costs ~90 bytes at
// tens of thousands of connections. Ids are not secrets: every use of one
// (the SSE pong) also checks that the caller owns the connection.
const prefix = randomBytes(6).toString('base64url');
let counter = 0;

export function newConnectionId(): string {
  counter++;
  return `${prefix}${counter.toString(36)}`;
}
