import { LRUCache } from 'lru-cache';
import type { Principal } from '../domain/index.js';
import type { PrincipalLoader, SubjectLoader } from './ports.js';

export interface UserCacheOptions {
  readonly maxEntries: number;
  /** Age until an entry is revalidated in the background while still served. */
  readonly ttlMs: number;
  /** Age past which an entry is no longer served before the database answers. */
  readonly refreshMs: number;
  readonly negativeMaxEntries: number;
  readonly negativeTtlMs: number;
}

export interface UserCacheStats {
  readonly size: number;
  readonly negativeSize: number;
  readonly hits: number;
  readonly misses: number;
  readonly negativeHits: number;
  readonly hitRatio: number;
  readonly databaseLookups: number;
}

interface Entry {
  readonly principal: Principal;
  readonly loadedAt: number;
}

// Keys of JWT subjects; token hashes are hex, so the two never meet.
const SUBJECT = 'sub:';

/**
 * Authenticated principals by token hash, and by JWT subject: a bounded LRU
 * (lru-cache) with stale-while-revalidate, plus a bounded negative cache so
 * that a repeated unknown token does not reach the database again. Both kinds
 * share one bound, one eviction (a disabled user is forgotten whichever way
 * it signed in) and one set of figures.
 *
 * The revalidation is ours rather than lru-cache's `fetch`: an entry being
 * refreshed by `fetch` is hidden from iteration, so evicting a user who was
 * just disabled could miss it and let the refresh put it back. Here every
 * eviction bumps a generation, and a load that started before it is dropped.
 */
export class UserCache {
  readonly #positive: LRUCache<string, Entry>;
  readonly #negative: LRUCache<string, true>;
  readonly #inflight = new Map<string, Promise<Principal | undefined>>();
  readonly #options: UserCacheOptions;
  readonly #load: PrincipalLoader;
  readonly #loadSubject: SubjectLoader | undefined;
  #generation = 0;
  #hits = 0;
  #misses = 0;
  #negativeHits = 0;
  #lookups = 0;

  /** `loadSubject` answers for JWT subjects; without it `getSubject` is not to be called (no JWT is accepted). */
  constructor(options: UserCacheOptions, load: PrincipalLoader, loadSubject?: SubjectLoader) {
    this.#options = options;
    this.#load = load;
    this.#loadSubject = loadSubject;
    this.#positive = new LRUCache<string, Entry>({ max: options.maxEntries });
    this.#negative = new LRUCache<string, true>({ max: options.negativeMaxEntries, ttl: options.negativeTtlMs });
  }

  /**
   * The principal for a token hash, undefined when the token is unknown.
   * Rejects only when the database fails and nothing usable is cached.
   */
  get(hash: string): Promise<Principal | undefined> {
    return this.#get(hash);
  }

  /**
   * The principal of a JWT's subject (names are unique regardless of case;
   * `Alice` and `alice` are two entries of one user, both evicted with it).
   * Rejects only when the database fails and nothing usable is cached.
   */
  async getSubject(username: string): Promise<Principal> {
    return (await this.#get(SUBJECT + username)) as Principal;
  }

  async #get(key: string): Promise<Principal | undefined> {
    if (this.#negative.get(key)) {
      this.#negativeHits++;
      return undefined;
    }
    const entry = this.#positive.get(key);
    if (entry) {
      const age = Date.now() - entry.loadedAt;
      if (age < this.#options.ttlMs) {
        this.#hits++;
        return entry.principal;
      }
      if (age < this.#options.refreshMs) {
        this.#hits++;
        // Revalidate in the background; a failure keeps the entry as it is.
        this.#refresh(key).catch(() => undefined);
        return entry.principal;
      }
      this.#misses++;
      // Past the refresh age the database must answer, unless it cannot: a
      // database outage must not sign out the users we already know.
      return this.#refresh(key).catch(() => entry.principal);
    }
    this.#misses++;
    return this.#refresh(key);
  }

  #refresh(key: string): Promise<Principal | undefined> {
    const running = this.#inflight.get(key);
    if (running) return running;
    const loading = this.#loadFresh(key).finally(() => {
      if (this.#inflight.get(key) === loading) this.#inflight.delete(key);
    });
    this.#inflight.set(key, loading);
    return loading;
  }

  async #loadFresh(key: string): Promise<Principal | undefined> {
    for (let attempt = 1; ; attempt++) {
      const generation = this.#generation;
      this.#lookups++;
      const principal = await this.#loadKey(key);
      if (generation !== this.#generation) {
        // An eviction raced this load, whose answer may predate the change.
        if (attempt < 3) continue;
        return principal;
      }
      if (principal) {
        this.#positive.set(key, { principal, loadedAt: Date.now() });
      } else {
        this.#positive.delete(key);
        this.#negative.set(key, true);
      }
      return principal;
    }
  }

  #loadKey(key: string): Promise<Principal | undefined> {
    if (!key.startsWith(SUBJECT)) return this.#load(key);
    if (!this.#loadSubject) throw new Error('a JWT subject reached a cache that has no subject loader');
    return this.#loadSubject(key.slice(SUBJECT.length));
  }

  /** Whether a token hash is cached as known, without touching recency. */
  has(hash: string): boolean {
    return this.#positive.peek(hash) !== undefined;
  }

  /** Forgets every cached token of a user. */
  evictUser(userId: number): void {
    this.#evict((entry) => entry.principal.user.id === userId);
  }

  evictToken(tokenId: number): void {
    this.#evict((entry) => entry.principal.tokenId === tokenId);
  }

  #evict(matches: (entry: Entry) => boolean): void {
    this.#generation++;
    for (const [hash, entry] of this.#positive.entries()) {
      if (matches(entry)) this.#positive.delete(hash);
    }
  }

  /** A token just created may have been remembered as unknown. */
  forgetUnknown(hash: string): void {
    this.#negative.delete(hash);
  }

  stats(): UserCacheStats {
    const served = this.#hits + this.#misses + this.#negativeHits;
    return {
      size: this.#positive.size,
      negativeSize: this.#negative.size,
      hits: this.#hits,
      misses: this.#misses,
      negativeHits: this.#negativeHits,
      hitRatio: served === 0 ? 0 : (this.#hits + this.#negativeHits) / served,
      databaseLookups: this.#lookups,
    };
  }
}
