import { CodecastError } from '../domain/index.js';

/**
 * Users whose connection was cut for flooding, and until when they may not
 * open another. Without it a flooder reconnects at once and spends a fresh
 * burst each time: the budget per connection alone bounds what one
 * connection costs, not what a reconnecting client costs. Entries live only
 * while a cool-off runs, so the map holds at most the users that flooded
 * within one cool-off; expired entries go on the next look or prune.
 */
export class FloodCooloff {
  readonly #untilMs = new Map<number, number>();
  #pruneAt = 64;

  constructor(private readonly cooloffMs: number) {}

  /** The user's connection was cut for flooding: no new one for the cool-off. */
  flooded(userId: number, now = Date.now()): void {
    if (this.cooloffMs <= 0) return;
    this.#untilMs.set(userId, now + this.cooloffMs);
    if (this.#untilMs.size >= this.#pruneAt) {
      for (const [id, until] of this.#untilMs) if (until <= now) this.#untilMs.delete(id);
      this.#pruneAt = Math.max(64, this.#untilMs.size * 2);
    }
  }

  /** @throws CodecastError too_many_messages, with the seconds left, while the user cools off. */
  check(userId: number, now = Date.now()): void {
    const until = this.#untilMs.get(userId);
    if (until === undefined) return;
    if (until <= now) {
      this.#untilMs.delete(userId);
      return;
    }
    throw new CodecastError(
      'too_many_messages',
      'A connection of this user was closed for sending too many messages; wait before connecting again.',
      undefined,
      Math.ceil((until - now) / 1000),
    );
  }

  get size(): number {
    return this.#untilMs.size;
  }
}
