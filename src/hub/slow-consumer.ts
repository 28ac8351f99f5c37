/**
 * The slow-consumer rule, in one place for every transport: a connection is
 * a slow consumer once more than `connectionQueue` writes in a row have
 * landed behind a full buffer (CODECAST_CONNECTION_QUEUE, 100). It is then
 * closed and recovers by replay; a code is never silently dropped.
 *
 * Counting writes rather than bytes keeps the bound the same whatever the
 * frames' sizes; counting them "in a row" — the count starts over as soon
 * as a write finds room — needs no 'drain' listener per connection. Each
 * connection keeps its count in one number field and updates it on every
 * write with `writesBehind`; the fan-out judges it with `isSlowConsumer`.
 */

/** The count after one more write: one more when the buffer was full, else none. */
export function writesBehind(backlog: number, bufferFull: boolean): number {
  return bufferFull ? backlog + 1 : 0;
}

/** Whether a connection with this many writes behind a full buffer has fallen too far behind. */
export function isSlowConsumer(backlog: number, connectionQueue: number): boolean {
  return backlog > connectionQueue;
}
