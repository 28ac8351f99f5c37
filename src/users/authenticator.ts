import { LRUCache } from 'lru-cache';
import { CodecastError, DatabaseUnavailableError, hashToken, looksLikeToken, type Principal } from '../domain/index.js';
import type { UserCache } from './user-cache.js';

const WINDOW_MS = 60_000;

interface FailureWindow {
  count: number;
  readonly startedAt: number;
}

/**
 * Turns a bearer token into a principal. Unknown tokens from one address are
 * limited per minute so that a flood of guesses stops before the database;
 * tokens the cache already knows are never limited.
 */
export class Authenticator {
  readonly #failures: LRUCache<string, FailureWindow>;

  constructor(
    private readonly cache: UserCache,
    private readonly failuresPerMinute: number,
  ) {
    this.#failures = new LRUCache<string, FailureWindow>({ max: 10_000, ttl: WINDOW_MS });
  }

  /** @throws CodecastError unauthorized, user_disabled, too_many_auth_failures or database_unavailable. */
  async authenticate(token: string | undefined, clientAddress: string): Promise<Principal> {
    if (token === undefined || token === '') {
      throw new CodecastError('unauthorized', 'Send a bearer token: Authorization: Bearer <token>.');
    }
    const hash = looksLikeToken(token) ? hashToken(token) : undefined;
    if (hash === undefined || !this.cache.has(hash)) this.#checkFailureBudget(clientAddress);
    if (hash === undefined) this.#fail(clientAddress);
    let principal: Principal | undefined;
    try {
      principal = await this.cache.get(hash);
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) throw new CodecastError('database_unavailable', undefined, undefined, 5);
      throw error;
    }
    if (!principal) this.#fail(clientAddress);
    if (principal.user.disabled) throw new CodecastError('user_disabled');
    return principal;
  }

  /**
   * Refuses a wrong secret that is not a user token (the metrics token),
   * counting it against the same per-address budget as unknown tokens: past
   * the budget the answer is 429, so `/metrics` is no side door for guessing.
   * @throws CodecastError too_many_auth_failures, else unauthorized with `message`.
   */
  refuseSecret(clientAddress: string, message: string): never {
    this.#checkFailureBudget(clientAddress);
    this.#fail(clientAddress, message);
  }

  #checkFailureBudget(clientAddress: string): void {
    const window = this.#failures.get(clientAddress);
    if (window && window.count >= this.failuresPerMinute) {
      const retryAfter = Math.max(1, Math.ceil((window.startedAt + WINDOW_MS - Date.now()) / 1000));
      throw new CodecastError('too_many_auth_failures', undefined, undefined, retryAfter);
    }
  }

  #fail(clientAddress: string, message = 'The token is unknown or revoked.'): never {
    const window = this.#failures.get(clientAddress);
    if (window) window.count++;
    else this.#failures.set(clientAddress, { count: 1, startedAt: Date.now() });
    throw new CodecastError('unauthorized', message);
  }
}
