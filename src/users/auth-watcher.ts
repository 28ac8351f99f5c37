import type { AuthEvent } from '../store/index.js';
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
        await this.apply(event);
        // Only once handled: a failure above retries this event next poll.
        this.#lastId = event.id;
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.#running = false;
    }
  }

  /**
   * Applies one change of access, whoever reports it (the poll, or another
   * node through the broker): forgets what the cache holds of it, and closes
   * the connections that lost access. Applying a change twice is harmless.
   */
  async apply(change: Pick<AuthEvent, 'kind' | 'userId' | 'tokenId'>): Promise<void> {
    if (change.kind === 'token_revoked' && change.tokenId !== null) {
      this.cache.evictToken(change.tokenId);
      this.enforcer.closeToken(change.userId, change.tokenId);
    } else {
      this.cache.evictUser(change.userId);
      const user = await this.feed.users.byId(change.userId);
      if (!user || user.disabled) this.enforcer.closeUser(change.userId);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
