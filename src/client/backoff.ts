/** How long to wait before reconnecting. */
export interface BackoffOptions {
  /**
   * The first delay after a drop, in ms; doubles with every failed attempt.
   * Over SSE the server's `retry:` hint replaces it. @default 1000
   */
  readonly initialMs?: number;
  /** The longest delay, in ms. @default 30000 */
  readonly maxMs?: number;
}

export const DEFAULT_INITIAL_MS = 1000;
export const DEFAULT_MAX_MS = 30_000;

/**
 * Exponential backoff with jitter: the `attempt`-th retry in a row (0 for the
 * first) waits between half and all of `initial × 2^attempt`, capped, so that
 * a server restart is not met by every subscriber in the same instant.
 */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.5 + random() * 0.5));
}

/**
 * A delay the server asked for (Retry-After, `shutdown`), honoured in full,
 * plus up to a quarter more so the clients it told do not return together.
 */
export function askedDelayMs(askedMs: number, random: () => number = Math.random): number {
  return Math.round(askedMs * (1 + random() * 0.25));
}
