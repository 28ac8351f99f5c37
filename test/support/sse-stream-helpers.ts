import type { SseEvent, SseReader } from './sse.js';
import type { TestServer } from './server.js';

let counter = 0;

/** A code string no other publish in this process uses (the dedup window never trips). */
export function uniqueCode(prefix = 'SSE'): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`.toUpperCase();
}

/** Publishes `n` distinct codes in turn; answers their ids. */
export async function publishMany(t: TestServer, n: number, prefix = 'SSE'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push((await t.publish(uniqueCode(prefix))).id);
  return ids;
}

/** The events a reader has seen, heartbeats left out. */
export function withoutPings(reader: SseReader): SseEvent[] {
  return reader.events.filter((e) => e.event !== 'ping');
}

/** The event names a reader has seen in order, heartbeats left out. */
export function eventNames(reader: SseReader): string[] {
  return withoutPings(reader).map((e) => e.event);
}

/**
 * The raw text a reader received, cut into frames at blank lines exactly as
 * written on the wire (each frame without its terminating blank line).
 */
export function rawFrames(reader: SseReader): string[] {
  const text = reader.raw.join('');
  const frames = text.split('\n\n');
  // The piece after the last separator is an unfinished frame (or empty).
  frames.pop();
  return frames;
}

/** GET /api/v1/stats as the admin. */
export async function stats(t: TestServer): Promise<any> {
  const res = await t.api('GET', '/api/v1/stats');
  if (res.status !== 200) throw new Error(`stats: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Waits until the server counts exactly `n` open connections. */
export async function waitForConnections(t: TestServer, n: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = t.server.hub.stats().connections;
    if (open === n) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} open connection(s); ${open} open`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sleeps; used only to wait out a code's expiry, never to assert timing. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
