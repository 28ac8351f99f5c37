import type { AccessChangeFeed } from './ports.js';
import type { AccessEnforcer } from './user-admin.js';
import type { UserCache } from './user-cache.js';

/**
 * Applies user and token changes made outside this process (the CLI on the
 * same database, another codecast node): evicts the cache and closes the
 * connections that lost access. Polling one indexed table is cheap and
 * needs nothing beyond the database every node already shares.
 */
export class AuthWatcher {
  #lastId = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly feed: AccessChangeFeed,
    private readonly cache: UserCache,
    private readonly enforcer: AccessEnforcer,
    private readonly onError: (error: unknown) => void,
  ) {}

  async start(periodMs: number): Promise<void> {
    this.#lastId = await this.feed.authEvents.lastId();
    this.#timer = setInterval(() => void this.poll(), periodMs);
    this.#timer.unref();
  }

  async poll(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const events = await this.feed.authEvents.after(this.#lastId);
      for (const event of events) {
        if (event.kind === 'token_revoked' && event.tokenId !== null) {
          this.cache.evictToken(event.tokenId);
          this.enforcer.closeToken(event.userId, event.tokenId);
        } else {
          this.cache.evictUser(event.userId);
          const user = await this.feed.users.byId(event.userId);
          if (!user || user.disabled) this.enforcer.closeUser(event.userId);
        }
        // Only once handled: a failure above retries this event next poll.
        this.#lastId = event.id;
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
