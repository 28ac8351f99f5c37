/** How long to wait before reconnecting. */
export interface BackoffOptions {
  /**
   * The first delay after a drop, in ms (0 to 600000); doubles with every
   * failed attempt. Over SSE the `retry:` hint that opens the stream replaces
   * it. @default 1000
   */
  readonly initialMs?: number;
  /** The longest delay, in ms (0 to 600000). @default 30000 */
  readonly maxMs?: number;
}

export const DEFAULT_INITIAL_MS = 1000;
export const DEFAULT_MAX_MS = 30_000;
/**
 * No wait is shorter, whatever the server or the options say: a `retry: 0`,
 * `Retry-After: 0` or a shutdown announcing 0 ms (all valid) must not turn
 * into a loop of attempts as fast as the network answers.
 */
export const MIN_DELAY_MS = 250;
/** No wait is longer: a `Retry-After` of days would leave a subscription silent, and setTimeout cannot wait past 2^31-1 ms. */
export const MAX_DELAY_MS = 600_000;
/** The longest delay setTimeout takes; a longer one fires at once (Node warns and uses 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

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

/**
 * The wait before the `attempt`-th retry in a row: the backoff, or what the
 * server asked for when that is longer (so a server answering 503 with a
 * short Retry-After again and again still meets growing waits), never below
 * {@link MIN_DELAY_MS} nor above {@link MAX_DELAY_MS}. The backoff's base is
 * floored too, so that it grows from a 0 ms hint.
 */
export function reconnectDelayMs(
  attempt: number,
  options: { readonly initialMs: number; readonly maxMs: number; readonly askedMs?: number | undefined },
  random: () => number = Math.random,
): number {
  const backoff = backoffMs(attempt, Math.max(MIN_DELAY_MS, options.initialMs), options.maxMs, random);
  const { askedMs = 0 } = options;
  const asked = askedMs > 0 ? askedDelayMs(askedMs, random) : 0;
  return boundedDelayMs(Math.max(backoff, asked));
}

/** `ms` within {@link MIN_DELAY_MS} and {@link MAX_DELAY_MS}; anything not a number is the least. */
export function boundedDelayMs(ms: number): number {
  return Number.isNaN(ms) ? MIN_DELAY_MS : Math.min(MAX_DELAY_MS, Math.max(MIN_DELAY_MS, ms));
}

/** Throws when a `reconnect` option is not a number of ms from 0 to {@link MAX_DELAY_MS}. */
export function checkBackoffOptions(options: BackoffOptions | undefined): void {
  for (const name of ['initialMs', 'maxMs'] as const) {
    const value = options?.[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= MAX_DELAY_MS)) {
      throw new TypeError(`subscribe: \`reconnect.${name}\` must be a number of ms from 0 to ${MAX_DELAY_MS}.`);
    }
  }
}
