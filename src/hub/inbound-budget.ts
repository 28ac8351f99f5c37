/**
 * How many messages a client may send: `burst` at once, then `ratePerSecond`
 * on average. Kept as the generic cell rate algorithm (GCRA), the token
 * bucket written as one number per client — the time at which its bucket
 * would be full again ("theoretical arrival time") — so a connection pays one
 * number field for its budget: no object, no timer, no closure. One budget
 * object is shared by every connection of a transport.
 */
export class InboundBudget {
  readonly #intervalMs: number;
  /** How far ahead of now the full-again time may run: `burst - 1` intervals. */
  readonly #toleranceMs: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {
    this.#intervalMs = 1000 / ratePerSecond;
    this.#toleranceMs = (burst - 1) * this.#intervalMs;
  }

  /**
   * Spends one message of a client whose state is `fullAt` (0 for a new
   * client). Answers the client's new state, or -1 when the message is over
   * the budget (the state is then left as it was).
   */
  spend(fullAt: number, now: number): number {
    const from = Math.max(fullAt, now);
    if (from - now > this.#toleranceMs) return -1;
    return from + this.#intervalMs;
  }

  /** Milliseconds until a client in state `fullAt` may send one more message. */
  waitMs(fullAt: number, now: number): number {
    return Math.max(0, fullAt - this.#toleranceMs - now);
  }
}

/**
 * One budget per user, for what a user sends outside a connection (HTTP
 * acks, shared by all of the user's tabs). Only users with spending left to
 * recover are held: an entry whose bucket is full again means the same as
 * none, and those are dropped whenever the map has grown since the last
 * pruning, so it holds at most the users active within one burst's worth of
 * time (and never more than the users that exist: every key is an
 * authenticated user).
 */
export class UserBudgets {
  readonly #fullAt = new Map<number, number>();
  #pruneAt = 1024;

  constructor(readonly budget: InboundBudget) {}

  /** Spends one message of `userId`: 0 when allowed, else how many ms to wait. */
  spend(userId: number, now: number): number {
    const next = this.budget.spend(this.#fullAt.get(userId) ?? 0, now);
    if (next < 0) return Math.max(1, this.budget.waitMs(this.#fullAt.get(userId) ?? 0, now));
    this.#fullAt.set(userId, next);
    if (this.#fullAt.size >= this.#pruneAt) this.#prune(now);
    return 0;
  }

  #prune(now: number): void {
    for (const [userId, fullAt] of this.#fullAt) if (fullAt <= now) this.#fullAt.delete(userId);
    this.#pruneAt = Math.max(1024, this.#fullAt.size * 2);
  }

  get size(): number {
    return this.#fullAt.size;
  }
}
