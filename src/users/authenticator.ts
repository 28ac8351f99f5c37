import { LRUCache } from 'lru-cache';
import { CodecastError, DatabaseUnavailableError, hashToken, looksLikeToken, type ErrorCode, type Principal } from '../domain/index.js';
import { looksLikeJwt, type JwtVerifier } from './jwt-verifier.js';
import type { UserCache } from './user-cache.js';

const WINDOW_MS = 60_000;

interface FailureWindow {
  count: number;
  readonly startedAt: number;
}

const UNKNOWN = 'The token is unknown or revoked.';
const NO_JWT = 'The token is unknown or revoked (it looks like a JWT, and this server has no key to verify JWTs with).';

/**
 * Turns a bearer token into a principal: an opaque token through the cache of
 * token hashes, a JWT through the verifier and then the cache of subjects —
 * one path for every transport and the HTTP API. Unknown tokens and refused
 * JWTs from one address are limited per minute so that a flood of guesses
 * stops before the database and the signature check; tokens the cache
 * already knows, and JWTs already verified, are never limited, and an
 * expired JWT, whose signature verified, is not counted.
 */
export class Authenticator {
  readonly #failures: LRUCache<string, FailureWindow>;

  constructor(
    private readonly cache: UserCache,
    private readonly failuresPerMinute: number,
    /** Absent: no key is configured, and no JWT is accepted. */
    private readonly jwt?: JwtVerifier,
  ) {
    this.#failures = new LRUCache<string, FailureWindow>({ max: 10_000, ttl: WINDOW_MS });
  }

  /** @throws CodecastError unauthorized, token_expired, forbidden, user_disabled, too_many_auth_failures or database_unavailable. */
  async authenticate(token: string | undefined, clientAddress: string): Promise<Principal> {
    if (token === undefined || token === '') {
      throw new CodecastError('unauthorized', 'Send a bearer token: Authorization: Bearer <token>.');
    }
    const jwt = looksLikeJwt(token);
    if (jwt && this.jwt) return this.#authenticateJwt(this.jwt, token, clientAddress);
    const unknown = jwt ? NO_JWT : UNKNOWN;
    const hash = looksLikeToken(token) ? hashToken(token) : undefined;
    if (hash === undefined || !this.cache.has(hash)) this.#checkFailureBudget(clientAddress);
    if (hash === undefined) this.#fail(clientAddress, unknown);
    const principal = await this.#cached(() => this.cache.get(hash));
    if (!principal) this.#fail(clientAddress, unknown);
    if (principal.user.disabled) throw new CodecastError('user_disabled');
    return principal;
  }

  async #authenticateJwt(verifier: JwtVerifier, token: string, clientAddress: string): Promise<Principal> {
    let verified = verifier.cached(token);
    if (!verified) {
      this.#checkFailureBudget(clientAddress);
      try {
        verified = await verifier.verify(token);
      } catch (error) {
        // An expired JWT is no guess: jose finds it expired only once its
        // signature verified, so our backend made it. Counted, a page
        // reconnecting with its old token would use up its address's budget
        // and get 429 for the fresh token it mints next.
        if (error instanceof CodecastError && error.code !== 'token_expired') this.#fail(clientAddress, error.message, error.code);
        throw error;
      }
    }
    const { subject } = verified;
    const principal = await this.#cached(() => this.cache.getSubject(subject));
    // Admins sign in with their own tokens only: a backend that can mint JWTs
    // must not be able to mint an admin, even by naming one.
    if (principal.user.role === 'admin') {
      throw new CodecastError('forbidden', `A JWT cannot sign in as an admin, and "${principal.user.username}" is one.`);
    }
    if (principal.user.disabled) throw new CodecastError('user_disabled');
    return principal;
  }

  async #cached<T>(lookup: () => Promise<T>): Promise<T> {
    try {
      return await lookup();
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) throw new CodecastError('database_unavailable', undefined, undefined, 5);
      throw error;
    }
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

  #fail(clientAddress: string, message = UNKNOWN, code: ErrorCode = 'unauthorized'): never {
    const window = this.#failures.get(clientAddress);
    if (window) window.count++;
    else this.#failures.set(clientAddress, { count: 1, startedAt: Date.now() });
    throw new CodecastError(code, message);
  }
}
